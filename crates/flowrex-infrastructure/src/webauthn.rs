//! The WebAuthn relying party with `webauthn-rs`: passkey registration with user
//! verification required and a discoverable (resident) credential asked for, and sign-in
//! with any discoverable credential. States and credentials go to the store as the
//! library's own JSON; the library checks challenges, origins, signatures, user
//! verification and the signature counter (a counter that does not increase is refused:
//! a cloned authenticator).

use anyhow::anyhow;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowrex_domain::ports::{
    CeremonyStart, PresentedCredential, RegisteredCredential, RelyingParty, WebauthnError,
};
use serde::Deserialize;
use serde_json::Value;
use url::Url;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// The longest credential id kept (WebAuthn Level 3, §5.1: at most 1023 bytes); its
/// base64url form fits the 1400-character column.
const MAX_CREDENTIAL_ID_BYTES: usize = 1023;

/// The relying-party settings cannot work.
#[derive(Debug, thiserror::Error)]
pub enum RelyingPartyConfigError {
    /// A relying party id that is not a domain name.
    #[error(
        "WEBAUTHN_RP_ID: `{0}` is not a domain such as example.com or localhost (lower case, no IP address, scheme, port, path or trailing dot: browsers refuse them)"
    )]
    RpId(String),
    /// An origin that is not a URL.
    #[error("WEBAUTHN_ORIGINS: `{0}` is not an origin such as https://app.example.com")]
    Origin(String),
    /// An origin whose host is neither the relying party id nor below it.
    #[error(
        "WEBAUTHN_ORIGINS: the host of `{origin}` is not `{rp_id}` or below it (127.0.0.1 never matches localhost)"
    )]
    Outside {
        /// The origin.
        origin: String,
        /// `WEBAUTHN_RP_ID`.
        rp_id: String,
    },
    /// No origin at all.
    #[error("WEBAUTHN_ORIGINS must name at least one origin")]
    NoOrigin,
    /// What the library refused.
    #[error("WebAuthn configuration refused: {0}")]
    Library(String),
}

/// The relying party.
pub struct WebauthnRelyingParty {
    webauthn: Webauthn,
}

impl std::fmt::Debug for WebauthnRelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebauthnRelyingParty")
            .field("origins", &self.webauthn.get_allowed_origins())
            .finish()
    }
}

/// Whether `rp_id` can be a relying party id: a domain name (WebAuthn §5.1.3: a
/// registrable domain suffix of the origin's effective domain), as browsers hold it: lower
/// case ASCII labels (an internationalised name in its `xn--` form), the last one not a
/// number, so no IP address, and nothing but the name.
fn is_domain(rp_id: &str) -> bool {
    let labels: Vec<&str> = rp_id.split('.').collect();
    labels.iter().all(|label| {
        !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }) && labels
        .last()
        .is_some_and(|last| !last.chars().all(|c| c.is_ascii_digit()))
}

/// Whether `host` is `rp_id` or a name below it.
fn within(host: &str, rp_id: &str) -> bool {
    host == rp_id || host.ends_with(&format!(".{rp_id}"))
}

impl WebauthnRelyingParty {
    /// The relying party `rp_id` (a domain: `localhost`, `example.com`), named `rp_name`
    /// to users, for pages at `origins` (each's host must be `rp_id` or below it).
    ///
    /// # Errors
    /// [`RelyingPartyConfigError`] naming the origin that cannot work.
    pub fn new(
        rp_id: &str,
        rp_name: &str,
        origins: &[String],
    ) -> Result<Self, RelyingPartyConfigError> {
        if !is_domain(rp_id) {
            return Err(RelyingPartyConfigError::RpId(rp_id.to_owned()));
        }
        let mut parsed = Vec::with_capacity(origins.len());
        for origin in origins {
            let url = Url::parse(origin)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .ok_or_else(|| RelyingPartyConfigError::Origin(origin.clone()))?;
            let host = url
                .host_str()
                .ok_or_else(|| RelyingPartyConfigError::Origin(origin.clone()))?;
            if !within(host, rp_id) {
                return Err(RelyingPartyConfigError::Outside {
                    origin: origin.clone(),
                    rp_id: rp_id.to_owned(),
                });
            }
            parsed.push(url);
        }
        let (first, rest) = parsed
            .split_first()
            .ok_or(RelyingPartyConfigError::NoOrigin)?;
        let mut builder = WebauthnBuilder::new(rp_id, first)
            .map_err(|e| RelyingPartyConfigError::Library(e.to_string()))?
            .rp_name(rp_name);
        for origin in rest {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder
            .build()
            .map_err(|e| RelyingPartyConfigError::Library(e.to_string()))?;
        Ok(Self { webauthn })
    }
}

fn rejected(error: impl std::fmt::Display) -> WebauthnError {
    WebauthnError::Rejected(anyhow!("{error}"))
}

fn unexpected(error: impl std::fmt::Display) -> WebauthnError {
    WebauthnError::Unexpected(anyhow!("{error}"))
}

fn to_json(value: &impl serde::Serialize) -> Result<Value, WebauthnError> {
    serde_json::to_value(value).map_err(unexpected)
}

impl RelyingParty for WebauthnRelyingParty {
    fn start_registration(
        &self,
        handle: [u8; 16],
        name: &str,
        exclude: &[String],
    ) -> Result<CeremonyStart, WebauthnError> {
        let exclude: Vec<Vec<u8>> = exclude
            .iter()
            .filter_map(|id| URL_SAFE_NO_PAD.decode(id).ok())
            .collect();
        let (options, state) = self
            .webauthn
            .start_passkey_registration(
                Uuid::from_bytes(handle),
                name,
                name,
                Some(exclude).filter(|e| !e.is_empty()),
            )
            .map_err(unexpected)?;
        let mut options = to_json(&options)?;
        // Sign-in names no user, so the credential must be discoverable. `residentKey`
        // is what browsers read (the legacy `requireResidentKey` stays false, for
        // authenticators that only know it).
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            selection.insert("residentKey".to_owned(), Value::from("required"));
        }
        Ok(CeremonyStart {
            options,
            state: serde_json::to_string(&state).map_err(unexpected)?,
        })
    }

    fn finish_registration(
        &self,
        response: &Value,
        state: &str,
    ) -> Result<RegisteredCredential, WebauthnError> {
        let response = RegisterPublicKeyCredential::deserialize(response).map_err(rejected)?;
        let state: PasskeyRegistration = serde_json::from_str(state).map_err(unexpected)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&response, &state)
            .map_err(rejected)?;
        // WebAuthn allows ids up to 1023 bytes; longer ones are refused, not stored.
        if passkey.cred_id().len() > MAX_CREDENTIAL_ID_BYTES {
            return Err(rejected("credential id longer than 1023 bytes"));
        }
        Ok(RegisteredCredential {
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            credential: serde_json::to_string(&passkey).map_err(unexpected)?,
        })
    }

    fn start_login(&self) -> Result<CeremonyStart, WebauthnError> {
        let (mut options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(unexpected)?;
        // A button starts this sign-in, not an autofill field: no conditional mediation.
        options.mediation = None;
        Ok(CeremonyStart {
            options: to_json(&options)?,
            state: serde_json::to_string(&state).map_err(unexpected)?,
        })
    }

    fn presented(&self, response: &Value) -> Result<PresentedCredential, WebauthnError> {
        let response = PublicKeyCredential::deserialize(response).map_err(rejected)?;
        Ok(PresentedCredential {
            credential_id: URL_SAFE_NO_PAD.encode(response.get_credential_id()),
            user_handle: response.get_user_unique_id().map(<[u8]>::to_vec),
        })
    }

    fn finish_login(
        &self,
        response: &Value,
        state: &str,
        credential: &str,
    ) -> Result<Option<String>, WebauthnError> {
        let response = PublicKeyCredential::deserialize(response).map_err(rejected)?;
        let state: DiscoverableAuthentication = serde_json::from_str(state).map_err(unexpected)?;
        let mut passkey: Passkey = serde_json::from_str(credential).map_err(unexpected)?;
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(&response, state, &passkey)
            .map_err(rejected)?;
        match passkey.update_credential(&result) {
            Some(true) => serde_json::to_string(&passkey)
                .map(Some)
                .map_err(unexpected),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rp_id_must_be_a_domain_name() {
        let origins = ["http://127.0.0.1:8000".to_owned()];
        for rp_id in [
            "127.0.0.1",
            "::1",
            "[::1]",
            "localhost.",
            "example.com:443",
            "https://example.com",
            "example.com/app",
            "",
            "a..b",
            "127.1",
            "Example.com",
            "bücher.example",
        ] {
            assert_matches!(
                WebauthnRelyingParty::new(rp_id, "Flowrex", &origins),
                Err(RelyingPartyConfigError::RpId(_)),
                "{rp_id}"
            );
        }
        for rp_id in [
            "localhost",
            "example.com",
            "auth.my-company.example",
            "xn--bcher-kva.example",
        ] {
            assert!(is_domain(rp_id), "{rp_id}");
        }
    }

    #[test]
    fn origins_must_be_the_rp_id_or_below_it() {
        let ok = |origins: &[&str]| {
            let origins: Vec<String> = origins.iter().map(|o| (*o).to_owned()).collect();
            WebauthnRelyingParty::new("localhost", "Flowrex", &origins).map(|_| ())
        };
        assert!(ok(&["http://localhost:3000", "http://localhost:8000"]).is_ok());
        assert_matches!(
            ok(&["http://127.0.0.1:8000"]),
            Err(RelyingPartyConfigError::Outside { .. })
        );
        assert_matches!(ok(&["localhost"]), Err(RelyingPartyConfigError::Origin(_)));
        assert_matches!(ok(&[]), Err(RelyingPartyConfigError::NoOrigin));
        let listed = WebauthnRelyingParty::new(
            "example.com",
            "Flowrex",
            &["https://app.example.com".to_owned()],
        )
        .unwrap();
        assert_eq!(
            listed.webauthn.get_allowed_origins().len(),
            1,
            "only the origins listed, not their subdomains"
        );
        let sub = WebauthnRelyingParty::new(
            "example.com",
            "Flowrex",
            &["https://app.example.com".to_owned()],
        );
        assert!(sub.is_ok());
        let evil = WebauthnRelyingParty::new(
            "example.com",
            "Flowrex",
            &["https://badexample.com".to_owned()],
        );
        assert_matches!(evil, Err(RelyingPartyConfigError::Outside { .. }));
    }

    #[test]
    fn registration_asks_for_a_discoverable_credential_with_user_verification() {
        let rp = WebauthnRelyingParty::new(
            "localhost",
            "Flowrex",
            &["http://localhost:3000".to_owned()],
        )
        .unwrap();
        let start = rp
            .start_registration([7; 16], "ada@example.com", &[])
            .unwrap();
        let selection = &start.options["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required");
        assert_eq!(selection["userVerification"], "required");
        assert_eq!(start.options["publicKey"]["rp"]["id"], "localhost");
        let login = rp.start_login().unwrap();
        assert!(login.options.get("mediation").is_none_or(Value::is_null));
        assert_eq!(login.options["publicKey"]["userVerification"], "required");
    }
}
