//! Passkeys in a real headless Chromium with a virtual authenticator (the DevTools
//! protocol's `WebAuthn.addVirtualAuthenticator`: CTAP2, internal, resident keys, user
//! verification): on the service's own `/passkeys` page, in production mode (CSRF rule
//! on), a person signs in with the password, adds a passkey, and signs in with it without
//! typing an address. `#[ignore]`d by default; `.ci/run` installs Chromium and runs it.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::WebAuthn;
use serde_json::json;

use crate::support::{BINARY, browser, screenshot, spare_port, start_quiet};

const EMAIL: &str = "passkey@example.com";
const PASSWORD: &str = "Passkey123";

/// Waits until the page's status line contains `expected`, and returns it.
fn status_when(tab: &headless_chrome::Tab, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = tab
            .wait_for_element("#status")
            .and_then(|status| status.get_inner_text())
            .unwrap_or_default();
        if text.contains(expected) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "the page never said {expected:?}; it says {text:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium; run by .ci/run"]
async fn a_person_adds_a_passkey_on_the_page_and_signs_in_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = spare_port();
    let database = format!("sqlite://{}", dir.path().join("passkeys.db").display());
    let _server = start_quiet(
        Command::new(BINARY).env_clear().envs([
            ("APP_ENV", "production"),
            ("PORT", port.to_string().as_str()),
            ("HOST", "127.0.0.1"),
            ("DATABASE_URL", database.as_str()),
            ("JWT_SECRET_KEY", "passkey-browser-secret"),
            ("APP_SECRET_KEY", "passkey-browser-app-secret"),
            ("BCRYPT_COST", "4"),
            ("RUST_LOG", "warn"),
        ]),
        dir.path(),
        port,
    );
    // The relying party is `localhost`: the page must be opened there, not at 127.0.0.1.
    let base = format!("http://localhost:{port}");
    let registered = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/register"))
        .header("X-CSRF-Token", "test")
        .json(&json!({ "email": EMAIL, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 201);
    // The address verified (its mail's link is another test's): a way to sign in is added
    // only to a verified address.
    let db = sea_orm::Database::connect(database.as_str()).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&db, "UPDATE users SET is_verified = true")
        .await
        .unwrap();
    db.close().await.unwrap();

    let browser = browser(&dir.path().join("profile"));
    let tab = browser.new_tab().unwrap();
    tab.call_method(WebAuthn::Enable {
        enable_ui: Some(false),
    })
    .unwrap();
    let authenticator = tab
        .call_method(WebAuthn::AddVirtualAuthenticator {
            options: WebAuthn::VirtualAuthenticatorOptions {
                protocol: WebAuthn::AuthenticatorProtocol::Ctap2,
                ctap_2_version: None,
                transport: WebAuthn::AuthenticatorTransport::Internal,
                has_resident_key: Some(true),
                has_user_verification: Some(true),
                has_large_blob: None,
                has_cred_blob: None,
                has_min_pin_length: None,
                has_prf: None,
                automatic_presence_simulation: Some(true),
                is_user_verified: Some(true),
                default_backup_eligibility: None,
                default_backup_state: None,
            },
        })
        .unwrap()
        .authenticator_id;

    tab.navigate_to(&format!("{base}/passkeys")).unwrap();
    tab.wait_until_navigated().unwrap();
    tab.wait_for_element("#email").unwrap().click().unwrap();
    tab.type_str(EMAIL).unwrap();
    tab.wait_for_element("#password").unwrap().click().unwrap();
    tab.type_str(PASSWORD).unwrap();
    tab.wait_for_element("#password-login button")
        .unwrap()
        .click()
        .unwrap();
    status_when(&tab, "Signed in with the password");
    tab.wait_for_element("#passkey-add")
        .unwrap()
        .click()
        .unwrap();
    status_when(&tab, "Passkey added");

    // The authenticator holds one discoverable credential for the relying party.
    let credentials = tab
        .call_method(WebAuthn::GetCredentials {
            authenticator_id: authenticator.clone(),
        })
        .unwrap()
        .credentials;
    assert_eq!(credentials.len(), 1);
    assert!(credentials[0].is_resident_credential);
    assert_eq!(credentials[0].rp_id.as_deref(), Some("localhost"));

    // A fresh page: no token in memory, no address typed.
    tab.navigate_to(&format!("{base}/passkeys")).unwrap();
    tab.wait_until_navigated().unwrap();
    tab.wait_for_element("#passkey-login")
        .unwrap()
        .click()
        .unwrap();
    let signed_in = status_when(&tab, "Signed in as");
    assert!(signed_in.contains(EMAIL), "{signed_in}");
    screenshot(
        &tab,
        &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("passkeys-page.png"),
    );
    // The signature counter moved on in the authenticator, and the service kept it.
    let after = tab
        .call_method(WebAuthn::GetCredentials {
            authenticator_id: authenticator,
        })
        .unwrap()
        .credentials;
    assert!(after[0].sign_count >= 1, "{:?}", after[0].sign_count);
}
