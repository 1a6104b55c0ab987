//! Sign-in with an outside provider against a real OpenID provider: the certified
//! `oidc-provider` from the npm registry (`tests/oidc-provider`, pinned, its lockfile
//! committed; `.ci/test` installs it), on loopback, with its own login and consent pages
//! driven over HTTP as a browser would. The service is the built binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::support::{BINARY, Running, spare_port, start_quiet};

pub(crate) const RETURN_TO: &str = "http://localhost:3000/auth/callback";

/// The built binary on `port` over `database`, its links under `public`: the settings
/// every test of outside providers shares (the providers' own are added by each test).
pub(crate) fn service(database: &str, port: u16, public: &str) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("DATABASE_URL", database)
        .env("JWT_SECRET_KEY", "federation-test-secret")
        .env("APP_SECRET_KEY", "federation-test-app-secret")
        .env("BCRYPT_COST", "4")
        .env("PUBLIC_URL", public);
    command
}

fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-provider")
}

/// The provider and the service, each on its own port, and a temporary directory.
struct World {
    _provider: Running,
    _service: Running,
    dir: tempfile::TempDir,
    base: String,
    http: reqwest::Client,
}

/// Starts the provider (with `accounts`) and the service configured for it.
fn world(accounts: Value) -> World {
    let dir = tempfile::tempdir().unwrap();
    let (op_port, port) = (spare_port(), spare_port());
    let base = format!("http://127.0.0.1:{port}");
    let modules = provider_dir().join("node_modules");
    assert!(
        modules.is_dir(),
        "{} is missing: run `npm ci` in tests/oidc-provider (.ci/test does)",
        modules.display()
    );
    let provider = start_quiet(
        Command::new("node")
            .arg(provider_dir().join("server.mjs"))
            .env("PORT", op_port.to_string())
            .env(
                "REDIRECT_URIS",
                format!("{base}/api/v1/auth/oauth/idp/callback"),
            )
            .env("ACCOUNTS", accounts.to_string()),
        dir.path(),
        op_port,
    );
    let service = start_quiet(
        service(
            &format!("sqlite://{}/f.db", dir.path().display()),
            port,
            &base,
        )
        .env("OAUTH_PROVIDERS", "idp")
        .env("OAUTH_IDP_NAME", "Test IdP")
        .env("OAUTH_IDP_ISSUER", format!("http://127.0.0.1:{op_port}"))
        .env("OAUTH_IDP_CLIENT_ID", "flowrex")
        .env("OAUTH_IDP_CLIENT_SECRET", "flowrex-test-secret")
        // The front end's page, and for the real browser a page that loads here.
        .env("OAUTH_RETURN_URLS", format!("{RETURN_TO},{base}/health")),
        dir.path(),
        port,
    );
    World {
        _provider: provider,
        _service: service,
        dir,
        base,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// A browser's cookies, per host (as RFC 6265 has it: not per port; paths ignored, which
/// sends a cookie to more places than a browser would, never fewer).
#[derive(Default)]
pub(crate) struct Browser {
    cookies: HashMap<String, Vec<(String, String)>>,
}

fn origin(url: &reqwest::Url) -> String {
    url.host_str().unwrap_or_default().to_owned()
}

impl Browser {
    pub(crate) async fn send(
        &mut self,
        http: &reqwest::Client,
        request: reqwest::RequestBuilder,
    ) -> reqwest::Response {
        let request = request.build().unwrap();
        let key = origin(request.url());
        let cookie = self
            .cookies
            .get(&key)
            .map(|jar| {
                jar.iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let mut request = request;
        if !cookie.is_empty() {
            request
                .headers_mut()
                .insert(COOKIE, cookie.parse().unwrap());
        }
        let response = http.execute(request).await.unwrap();
        let jar = self.cookies.entry(key).or_default();
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            jar.retain(|(n, _)| n != name);
            let removed = value.is_empty() || attributes.to_ascii_lowercase().contains("max-age=0");
            if !removed {
                jar.push((name.to_owned(), value.to_owned()));
            }
        }
        response
    }

    /// Goes through the provider from `start` (its authorization address): its login page
    /// as `login`, its consent page, until it redirects to the service; that address.
    async fn through_provider(
        &mut self,
        http: &reqwest::Client,
        start: &str,
        login: &str,
        service: &str,
    ) -> String {
        let mut next = http.get(start);
        for _ in 0..12 {
            let response = self.send(http, next).await;
            let url = response.url().clone();
            if response.status().is_redirection() {
                let location = response.headers()[LOCATION].to_str().unwrap();
                let target = url.join(location).unwrap().to_string();
                if target.starts_with(service) {
                    return target;
                }
                next = http.get(target);
                continue;
            }
            let page = response.text().await.unwrap();
            let action = between(&page, "action=\"", "\"").expect("a form on the provider's page");
            let prompt = between(&page, "name=\"prompt\" value=\"", "\"").unwrap_or_default();
            let mut form = vec![("prompt", prompt.to_owned())];
            if prompt == "login" {
                form.push(("login", login.to_owned()));
                form.push(("password", "any".to_owned()));
            }
            next = http.post(url.join(action).unwrap()).form(&form);
        }
        panic!("the provider never sent the browser back");
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

impl World {
    /// A whole sign-in as the provider's user `login` in `browser`: where the service sent
    /// the front end back to.
    async fn sign_in(&self, browser: &mut Browser, login: &str) -> String {
        let authorize = format!(
            "{}/api/v1/auth/oauth/idp/authorize?return_to={}",
            self.base,
            urlencode(RETURN_TO)
        );
        let response = browser.send(&self.http, self.http.get(authorize)).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let to_provider = response.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(to_provider.contains("nonce="), "{to_provider}");
        assert!(
            to_provider.contains("code_challenge_method=S256"),
            "{to_provider}"
        );
        let callback = browser
            .through_provider(&self.http, &to_provider, login, &self.base)
            .await;
        assert!(
            query_param(&callback, "iss").is_some(),
            "RFC 9207: {callback}"
        );
        let response = browser.send(&self.http, self.http.get(&callback)).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{callback}");
        let back = response.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(back.starts_with(RETURN_TO), "{back}");
        assert!(!back.contains("token"), "no token in a URL: {back}");
        back
    }

    /// Exchanges `code` from `browser` (the flow's cookie binds the code to it).
    async fn exchange(&self, browser: &mut Browser, code: &str) -> (StatusCode, Value) {
        let request = self
            .http
            .post(format!("{}/api/v1/auth/oauth/exchange", self.base))
            .json(&json!({ "code": code }));
        let response = browser.send(&self.http, request).await;
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn me(&self, token: &str) -> Value {
        self.http
            .get(format!("{}/api/v1/auth/me", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

pub(crate) fn urlencode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

#[tokio::test]
async fn a_new_user_signs_in_through_the_provider_then_again_into_the_same_account() {
    let world = world(json!({
        "ada": {"email": "ada@example.com", "email_verified": true, "name": "Ada Lovelace"},
    }));
    let providers: Value = world
        .http
        .get(format!("{}/api/v1/auth/providers", world.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        providers,
        json!([{"id": "idp", "name": "Test IdP", "kind": "oidc"}])
    );

    let mut browser = Browser::default();
    let back = world.sign_in(&mut browser, "ada").await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    // Another browser (a victim's front end handed the code: login CSRF) gets nothing, and
    // spends it.
    let (status, body) = world.exchange(&mut Browser::default(), &code).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, json!({"detail": "Invalid code"}))
    );
    let back = world.sign_in(&mut browser, "ada").await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    let (status, tokens) = world.exchange(&mut browser, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let me = world.me(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["full_name"], "Ada Lovelace");
    assert_eq!(
        me["is_verified"], true,
        "the provider vouched for the address"
    );
    // The code is spent.
    let (status, body) = world.exchange(&mut browser, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"detail": "Invalid code"}));

    // Again: the same account.
    let back = world.sign_in(&mut browser, "ada").await;
    let (status, again) = world
        .exchange(&mut browser, &query_param(&back, "code").unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    let again = world.me(again["access_token"].as_str().unwrap()).await;
    assert_eq!(again["id"], me["id"]);

    // The identity is listed; it is the only way in, so it cannot be unlinked.
    let token = tokens["access_token"].as_str().unwrap();
    let identities: Value = world
        .http
        .get(format!("{}/api/v1/auth/identities", world.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(identities.as_array().map(Vec::len), Some(1), "{identities}");
    assert_eq!(identities[0]["provider"], "idp");
    assert_eq!(identities[0]["email"], "ada@example.com");
    let response = world
        .http
        .delete(format!(
            "{}/api/v1/auth/identities/{}",
            world.base, identities[0]["id"]
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);

    // An administrator sees it, and cannot remove the last way in either.
    world.create("root@example.com", "Admin1234", true);
    let (_, admin) = world
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "root@example.com", "password": "Admin1234"}),
        )
        .await;
    let admin = admin["access_token"].as_str().unwrap();
    let listed: Value = world
        .http
        .get(format!(
            "{}/api/v1/admin/users/{}/identities",
            world.base, me["id"]
        ))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, identities);
    let response = world
        .http
        .delete(format!(
            "{}/api/v1/admin/users/{}/identities/{}",
            world.base, me["id"], identities[0]["id"]
        ))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn an_unverified_local_account_is_never_signed_into_and_a_replayed_state_is_refused() {
    let world = world(json!({
        "victim": {"email": "victim@example.com", "email_verified": true},
    }));
    // A squatter registered the victim's address and never verified it.
    let response = world
        .http
        .post(format!("{}/api/v1/auth/register", world.base))
        .json(&json!({"email": "victim@example.com", "password": "Squat1234"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let mut browser = Browser::default();
    let back = world.sign_in(&mut browser, "victim").await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("account_exists"),
        "{back}"
    );
    assert_eq!(query_param(&back, "code"), None);

    // The provider's answer again, from another browser: no flow to return to.
    let authorize = format!(
        "{}/api/v1/auth/oauth/idp/authorize?return_to={}",
        world.base,
        urlencode(RETURN_TO)
    );
    let response = browser.send(&world.http, world.http.get(&authorize)).await;
    let to_provider = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let callback = browser
        .through_provider(&world.http, &to_provider, "victim", &world.base)
        .await;
    let mut stranger = Browser::default();
    let response = stranger.send(&world.http, world.http.get(&callback)).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = response.headers()[LOCATION].to_str().unwrap();
    assert_eq!(
        query_param(back, "error").as_deref(),
        Some("invalid_state"),
        "{back}"
    );
    // And replayed by the browser that began it: the state was spent.
    let response = browser.send(&world.http, world.http.get(&callback)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"detail": "invalid_state"})
    );
    // A return address not on the list, an unknown provider.
    let response = world
        .http
        .get(format!(
            "{}/api/v1/auth/oauth/idp/authorize?return_to={}",
            world.base,
            urlencode("http://localhost:3000/auth/callback/../evil")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = world
        .http
        .get(format!(
            "{}/api/v1/auth/oauth/nope/authorize?return_to={}",
            world.base,
            urlencode(RETURN_TO)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

impl World {
    /// A verified user with a password, made by the operator's `flowrex user create`.
    fn create_user(&self, email: &str, password: &str) {
        self.create(email, password, false);
    }

    fn create(&self, email: &str, password: &str, superuser: bool) {
        use std::io::Write;
        let mut args = vec!["user", "create", "--email", email];
        if superuser {
            args.push("--superuser");
        }
        let mut child = Command::new(BINARY)
            .args(&args)
            .env_clear()
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/f.db", self.dir.path().display()),
            )
            .env("JWT_SECRET_KEY", "federation-test-secret")
            .env("APP_SECRET_KEY", "federation-test-app-secret")
            .env("BCRYPT_COST", "4")
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        assert!(child.wait().unwrap().success());
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }
}

fn totp_code(secret: &str) -> String {
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(secret.to_owned())
            .to_bytes()
            .unwrap(),
        None,
        String::new(),
    )
    .generate_current()
    .unwrap()
}

#[tokio::test]
async fn a_user_with_totp_links_a_provider_signs_in_with_it_through_the_second_factor_and_unlinks_it()
 {
    let world = world(json!({
        "ada-at-idp": {"email": "ada.elsewhere@example.com", "email_verified": true},
    }));
    world.create_user("ada@example.com", "Secret123");
    let login = json!({"email": "ada@example.com", "password": "Secret123"});
    let (status, tokens) = world.post("/api/v1/auth/login", None, login.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    // TOTP on.
    let (_, enrolled) = world
        .post(
            "/api/v1/auth/mfa/totp/enroll",
            Some(&token),
            json!({"current_password": "Secret123"}),
        )
        .await;
    let secret = enrolled["secret"].as_str().unwrap().to_owned();
    let (status, activated) = world
        .post(
            "/api/v1/auth/mfa/totp/activate",
            Some(&token),
            json!({"code": totp_code(&secret)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{activated}");
    let recovery: Vec<String> = activated["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    // Linking from an aal1 session of an account with a second factor: refused.
    let link = json!({"return_to": RETURN_TO, "current_password": "Secret123"});
    let (status, body) = world
        .post("/api/v1/auth/identities/idp", Some(&token), link.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body, json!({"detail": "aal2_required"}));
    // An aal2 session (password, then a recovery code) links.
    let (_, challenge) = world.post("/api/v1/auth/login", None, login).await;
    let (status, aal2) = world
        .post(
            "/api/v1/auth/mfa/verify",
            None,
            json!({"mfa_token": challenge["mfa_token"], "recovery_code": recovery[0]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{aal2}");
    let aal2 = aal2["access_token"].as_str().unwrap().to_owned();
    let mut browser = Browser::default();
    let request = world
        .http
        .post(format!("{}/api/v1/auth/identities/idp", world.base))
        .bearer_auth(&aal2)
        .json(&json!({"return_to": RETURN_TO}));
    let response = browser.send(&world.http, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let started: Value = response.json().await.unwrap();
    let url = started["authorization_url"].as_str().unwrap().to_owned();
    let callback = browser
        .through_provider(&world.http, &url, "ada-at-idp", &world.base)
        .await;
    let response = browser.send(&world.http, world.http.get(&callback)).await;
    let back = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&back, "linked").as_deref(),
        Some("idp"),
        "{back}"
    );

    // Signing in with the provider asks for the second factor, as a password does.
    let back = world.sign_in(&mut browser, "ada-at-idp").await;
    let (status, answer) = world
        .exchange(&mut browser, &query_param(&back, "code").unwrap())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["detail"], "mfa_required");
    let (status, finished) = world
        .post(
            "/api/v1/auth/mfa/verify",
            None,
            json!({"mfa_token": answer["mfa_token"], "recovery_code": recovery[1]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{finished}");
    let fed = finished["access_token"].as_str().unwrap();
    let me = world.me(fed).await;
    assert_eq!(
        me["email"], "ada@example.com",
        "the linked account, not a new one"
    );
    let sessions: Value = world
        .http
        .get(format!("{}/api/v1/auth/sessions", world.base))
        .bearer_auth(fed)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let amrs: Vec<String> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["amr"].to_string())
        .collect();
    assert!(
        amrs.iter()
            .any(|amr| amr.contains("fed") && amr.contains("recovery")),
        "{sessions}"
    );

    // Listed, then unlinked (the password is still a way in).
    let identities: Value = world
        .http
        .get(format!("{}/api/v1/auth/identities", world.base))
        .bearer_auth(&aal2)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(identities[0]["provider"], "idp", "{identities}");
    let unlinked = world
        .http
        .delete(format!(
            "{}/api/v1/auth/identities/{}",
            world.base, identities[0]["id"]
        ))
        .bearer_auth(&aal2)
        .send()
        .await
        .unwrap();
    assert_eq!(unlinked.status(), StatusCode::NO_CONTENT);
    let identities: Value = world
        .http
        .get(format!("{}/api/v1/auth/identities", world.base))
        .bearer_auth(&aal2)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(identities, json!([]));
}

fn required(variable: &str) -> String {
    std::env::var(variable)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{variable} must be set for this test"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs TEST_POSTGRES_URL; run by .ci/run"]
async fn a_flow_begun_on_one_instance_finishes_on_another_sharing_postgresql() {
    let database =
        flowrex_infrastructure::test_support::fresh_server_database(&required("TEST_POSTGRES_URL"))
            .await
            .unwrap()
            .to_string();
    let dir = tempfile::tempdir().unwrap();
    let (op_port, first, second) = (spare_port(), spare_port(), spare_port());
    let public = format!("http://127.0.0.1:{first}");
    let _provider = start_quiet(
        Command::new("node")
            .arg(provider_dir().join("server.mjs"))
            .env("PORT", op_port.to_string())
            .env(
                "REDIRECT_URIS",
                format!("{public}/api/v1/auth/oauth/idp/callback"),
            )
            .env(
                "ACCOUNTS",
                json!({"ada": {"email": "ada@example.com", "email_verified": true}}).to_string(),
            ),
        dir.path(),
        op_port,
    );
    let instance = |port: u16, auto_migrate: &str| {
        start_quiet(
            // One public address (behind a load balancer), two instances.
            service(&database, port, &public)
                .env("AUTO_MIGRATE", auto_migrate)
                .env("OAUTH_PROVIDERS", "idp")
                .env("OAUTH_IDP_ISSUER", format!("http://127.0.0.1:{op_port}"))
                .env("OAUTH_IDP_CLIENT_ID", "flowrex")
                .env("OAUTH_IDP_CLIENT_SECRET", "flowrex-test-secret")
                .env("OAUTH_RETURN_URLS", RETURN_TO),
            dir.path(),
            port,
        )
    };
    let _first = instance(first, "true");
    let _second = instance(second, "false");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut browser = Browser::default();
    // Begun on the first instance…
    let authorize = format!(
        "http://127.0.0.1:{first}/api/v1/auth/oauth/idp/authorize?return_to={}",
        urlencode(RETURN_TO)
    );
    let response = browser.send(&http, http.get(authorize)).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let to_provider = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let callback = browser
        .through_provider(&http, &to_provider, "ada", &public)
        .await;
    // …the provider's answer reaches the second…
    let callback = callback.replacen(&public, &format!("http://127.0.0.1:{second}"), 1);
    let response = browser.send(&http, http.get(&callback)).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));
    // …and the code is exchanged on the first.
    let request = http
        .post(format!(
            "http://127.0.0.1:{first}/api/v1/auth/oauth/exchange"
        ))
        .json(&json!({"code": code}));
    let tokens: Value = browser.send(&http, request).await.json().await.unwrap();
    let me: Value = http
        .get(format!("http://127.0.0.1:{second}/api/v1/auth/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ada@example.com");
}

#[test]
#[ignore = "needs Debian's chromium; run by .ci/run"]
fn a_real_browser_signs_in_through_the_providers_pages() {
    let world = world(json!({
        "ada": {"email": "ada@example.com", "email_verified": true},
    }));
    let profile = tempfile::tempdir().unwrap();
    let browser = crate::support::browser(profile.path());
    let tab = browser.new_tab().unwrap();
    let return_to = format!("{}/health", world.base);
    // The front end's own PKCE binds the code (the browser's cookie is Chromium's own).
    let verifier = "a-front-end-verifier-for-the-real-browser-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    tab.navigate_to(&format!(
        "{}/api/v1/auth/oauth/idp/authorize?return_to={}&code_challenge={challenge}&code_challenge_method=S256",
        world.base,
        urlencode(&return_to)
    ))
    .unwrap();
    tab.wait_until_navigated().unwrap();
    tab.wait_for_element("input[name=login]")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str("ada").unwrap();
    tab.wait_for_element("input[name=password]")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str("any").unwrap();
    tab.wait_for_element("button[type=submit]")
        .unwrap()
        .click()
        .unwrap();
    // The consent page, then back through the service's callback to return_to.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut consented = false;
    let landed = loop {
        let url = tab.get_url();
        if url.starts_with(&return_to) {
            break url;
        }
        assert!(std::time::Instant::now() < deadline, "stuck at {url}");
        if !consented
            && tab
                .find_element("input[name=prompt][value=consent]")
                .is_ok()
        {
            tab.find_element("button[type=submit]")
                .unwrap()
                .click()
                .unwrap();
            consented = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let code = query_param(&landed, "code").unwrap_or_else(|| panic!("{landed}"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, tokens) = runtime.block_on(async {
        let response = world
            .http
            .post(format!("{}/api/v1/auth/oauth/exchange", world.base))
            .json(&json!({"code": code, "code_verifier": verifier}))
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    });
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let me = runtime.block_on(world.me(tokens["access_token"].as_str().unwrap()));
    assert_eq!(me["email"], "ada@example.com");
}
