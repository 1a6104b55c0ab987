// The passkey ceremonies as a front end drives them: the service answers WebAuthn options
// with base64url fields, the browser needs ArrayBuffers, and the answers go back as JSON
// with base64url fields again. The access token stays in memory only.
"use strict";

const api = new URL("api/v1/auth/", document.baseURI);
let accessToken = null;

const status = (text) => { document.getElementById("status").textContent = text; };

const toBytes = (base64url) => {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
};
const toBase64url = (buffer) => {
  if (!buffer) return null;
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

async function call(path, body, bearer) {
  const headers = { "Content-Type": "application/json", "X-CSRF-Token": "passkeys-page" };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const response = await fetch(new URL(path, api), {
    method: "POST", headers, body: JSON.stringify(body ?? {}),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(typeof json.detail === "string" ? json.detail : `HTTP ${response.status}`);
  return json;
}

async function whoAmI(token) {
  const response = await fetch(new URL("me", api), { headers: { Authorization: `Bearer ${token}` } });
  return response.json();
}

document.getElementById("password-login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const tokens = await call("login", {
      email: document.getElementById("email").value,
      password: document.getElementById("password").value,
    });
    accessToken = tokens.access_token;
    document.getElementById("passkey-add").hidden = false;
    status("Signed in with the password.");
  } catch (error) {
    status(error.message === "mfa_required"
      ? "This account has two-step sign-in: sign in with a code first."
      : `Sign-in failed: ${error.message}`);
  }
});

document.getElementById("passkey-add").addEventListener("click", async () => {
  try {
    // Adding a way to sign in needs fresh proof: the password just typed.
    const start = await call("passkeys/register/start",
      { current_password: document.getElementById("password").value }, accessToken);
    const options = start.publicKey;
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    for (const credential of options.excludeCredentials ?? []) credential.id = toBytes(credential.id);
    const created = await navigator.credentials.create({ publicKey: options });
    const credential = {
      id: created.id,
      rawId: toBase64url(created.rawId),
      type: created.type,
      response: {
        attestationObject: toBase64url(created.response.attestationObject),
        clientDataJSON: toBase64url(created.response.clientDataJSON),
      },
      extensions: created.getClientExtensionResults(),
    };
    const passkey = await call("passkeys/register/finish",
      { ceremony_id: start.ceremony_id, credential, name: navigator.platform || "This device" },
      accessToken);
    // End the password session: the page keeps no session it does not show.
    await call("logout", {}, accessToken).catch(() => {});
    accessToken = null;
    document.getElementById("passkey-add").hidden = true;
    status(`Passkey added (${passkey.name}). Signed out: sign in with the passkey.`);
  } catch (error) {
    status(`Adding the passkey failed: ${error.message}`);
  }
});

document.getElementById("passkey-login").addEventListener("click", async () => {
  try {
    const start = await call("passkeys/login/start", {});
    const options = start.publicKey;
    options.challenge = toBytes(options.challenge);
    for (const credential of options.allowCredentials ?? []) credential.id = toBytes(credential.id);
    const asserted = await navigator.credentials.get({ publicKey: options });
    const credential = {
      id: asserted.id,
      rawId: toBase64url(asserted.rawId),
      type: asserted.type,
      response: {
        authenticatorData: toBase64url(asserted.response.authenticatorData),
        clientDataJSON: toBase64url(asserted.response.clientDataJSON),
        signature: toBase64url(asserted.response.signature),
        userHandle: toBase64url(asserted.response.userHandle),
      },
      extensions: asserted.getClientExtensionResults(),
    };
    const tokens = await call("passkeys/login/finish", { ceremony_id: start.ceremony_id, credential });
    const me = await whoAmI(tokens.access_token);
    status(`Signed in as ${me.email} with a passkey.`);
  } catch (error) {
    status(`Passkey sign-in failed: ${error.message}`);
  }
});
