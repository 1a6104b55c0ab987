//! The `github` kind against a stand-in of GitHub (GitHub's own servers cannot run here): an
//! actix server answering as GitHub's documentation says — `/login/oauth/authorize`,
//! `/login/oauth/access_token` (with PKCE), `{api}/user` and `{api}/user/emails`. The
//! address is the primary one, verified only by that address's own flag.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::federation::{Browser, RETURN_TO, query_param, service, urlencode};
use crate::support::{Running, spare_port, start_quiet};

/// The GitHub user the next sign-in is, and their addresses.
#[derive(Default)]
struct GitHub {
    user: Value,
    emails: Value,
    /// Per code: its PKCE challenge.
    codes: HashMap<String, String>,
}

type Shared = Arc<Mutex<GitHub>>;

fn start_github(shared: Shared) -> String {
    let port = spare_port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(shared.clone()))
            .route("/login/oauth/authorize", web::get().to(authorize))
            .route("/login/oauth/access_token", web::post().to(access_token))
            .route("/api/user", web::get().to(user))
            .route("/api/user/emails", web::get().to(emails))
    })
    .workers(1)
    .bind(("127.0.0.1", port))
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}")
}

async fn authorize(
    shared: web::Data<Shared>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    let mut github = shared.lock().unwrap();
    let code = format!("gh-code-{}", github.codes.len());
    github.codes.insert(code.clone(), param("code_challenge"));
    let mut location = reqwest::Url::parse(&param("redirect_uri")).unwrap();
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &param("state"));
    HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, location.to_string()))
        .finish()
}

async fn access_token(
    shared: web::Data<Shared>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let github = shared.lock().unwrap();
    let Some(challenge) = form.get("code").and_then(|c| github.codes.get(c)) else {
        return HttpResponse::Ok().json(json!({"error": "bad_verification_code"}));
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    if &computed != challenge {
        return HttpResponse::Ok().json(json!({"error": "bad_verification_code"}));
    }
    HttpResponse::Ok().json(json!({
        "access_token": "gho_stand_in", "token_type": "bearer", "scope": "read:user,user:email",
    }))
}

fn authorized(request: &HttpRequest) -> bool {
    request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("bearer gho_stand_in"))
}

async fn user(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    if !authorized(&request) {
        return HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"}));
    }
    HttpResponse::Ok().json(shared.lock().unwrap().user.clone())
}

async fn emails(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    if !authorized(&request) {
        return HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"}));
    }
    HttpResponse::Ok().json(shared.lock().unwrap().emails.clone())
}

#[actix_web::test]
async fn github_users_sign_in_by_their_id_verified_only_by_their_primary_addresss_flag() {
    let shared: Shared = Arc::default();
    let github = start_github(shared.clone());
    let dir = tempfile::tempdir().unwrap();
    let port = spare_port();
    let base = format!("http://127.0.0.1:{port}");
    let database = format!("sqlite://{}/g.db", dir.path().display());
    let _service: Running = start_quiet(
        service(&database, port, &base)
            .env("OAUTH_PROVIDERS", "github")
            .env("OAUTH_GITHUB_KIND", "github")
            .env("OAUTH_GITHUB_CLIENT_ID", "gh-client")
            .env("OAUTH_GITHUB_CLIENT_SECRET", "gh-secret")
            .env(
                "OAUTH_GITHUB_AUTHORIZE_URL",
                format!("{github}/login/oauth/authorize"),
            )
            .env(
                "OAUTH_GITHUB_TOKEN_URL",
                format!("{github}/login/oauth/access_token"),
            )
            .env("OAUTH_GITHUB_API_URL", format!("{github}/api"))
            .env("OAUTH_GITHUB_LINK_BY_VERIFIED_EMAIL", "true")
            .env("OAUTH_RETURN_URLS", RETURN_TO),
        dir.path(),
        port,
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in_as = |id: u64, name: &str, emails: Value| {
        {
            let mut gh = shared.lock().unwrap();
            gh.user = json!({"id": id, "login": format!("user{id}"), "name": name});
            gh.emails = emails;
        }
        let http = http.clone();
        let base = base.clone();
        async move {
            let mut browser = Browser::default();
            let authorize = format!(
                "{base}/api/v1/auth/oauth/github/authorize?return_to={}",
                urlencode(RETURN_TO)
            );
            let response = browser.send(&http, http.get(authorize)).await;
            assert_eq!(response.status(), StatusCode::FOUND);
            let at_github = response.headers()[LOCATION].to_str().unwrap().to_owned();
            assert!(
                at_github.contains("code_challenge_method=S256"),
                "{at_github}"
            );
            let response = browser.send(&http, http.get(&at_github)).await;
            let callback = response.headers()[LOCATION].to_str().unwrap().to_owned();
            let response = browser.send(&http, http.get(&callback)).await;
            assert_eq!(response.status(), StatusCode::FOUND);
            let back = response.headers()[LOCATION].to_str().unwrap().to_owned();
            (back, browser)
        }
    };
    let signed_in = |(back, mut browser): (String, Browser)| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));
            let request = http
                .post(format!("{base}/api/v1/auth/oauth/exchange"))
                .json(&json!({"code": code}));
            let tokens: Value = browser.send(&http, request).await.json().await.unwrap();
            http.get(format!("{base}/api/v1/auth/me"))
                .bearer_auth(tokens["access_token"].as_str().unwrap())
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };

    // A verified primary address: a verified account, named as on GitHub.
    let back = sign_in_as(
        4242,
        "Octo Cat",
        json!([
            {"email": "spare@example.com", "primary": false, "verified": true},
            {"email": "octo@example.com", "primary": true, "verified": true},
        ]),
    )
    .await;
    let me = signed_in(back).await;
    assert_eq!(me["email"], "octo@example.com");
    assert_eq!(me["full_name"], "Octo Cat");
    assert_eq!(me["is_verified"], true);
    // The key is the numeric id: the same user with another primary address, same account.
    let back = sign_in_as(
        4242,
        "Octo Cat",
        json!([{"email": "octo.new@example.com", "primary": true, "verified": true}]),
    )
    .await;
    assert_eq!(signed_in(back).await["id"], me["id"]);

    // An unverified primary address never makes a verified account, whatever else is verified.
    let back = sign_in_as(
        5353,
        "Eve",
        json!([
            {"email": "eve@example.com", "primary": true, "verified": false},
            {"email": "eve.verified@example.com", "primary": false, "verified": true},
        ]),
    )
    .await;
    let eve = signed_in(back).await;
    assert_eq!(eve["email"], "eve@example.com");
    assert_eq!(eve["is_verified"], false);

    // With linking by verified address on: an unverified primary never links to the account
    // of that address; a verified one does.
    let back = sign_in_as(
        6464,
        "Mallory",
        json!([{"email": "octo@example.com", "primary": true, "verified": false}]),
    )
    .await
    .0;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("account_exists"),
        "{back}"
    );
    let back = sign_in_as(
        7575,
        "Octo at work",
        json!([{"email": "octo@example.com", "primary": true, "verified": true}]),
    )
    .await;
    assert_eq!(
        signed_in(back).await["id"],
        me["id"],
        "linked: both sides verified"
    );
}
