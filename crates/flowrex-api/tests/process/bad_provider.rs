//! A deliberately bad OpenID provider — the tests' own, signing ID tokens with a test key
//! (`fixtures/`) — and the service refusing each of its bad answers with a fixed error
//! code, writing nothing: a wrong `iss`, a wrong `aud`, several audiences without `azp`, a
//! missing or wrong `nonce`, an expired token, an `iat` in the future, a key not in its set,
//! `alg: none`, an HMAC with the client secret, a callback `iss` of another issuer. Then a
//! good answer: the first account is made only now, and a code is redeemed only with the
//! front end's own PKCE verifier.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::federation::{Browser, RETURN_TO, query_param, service, urlencode};
use crate::support::{Running, spare_port, start_quiet};

const CLIENT_ID: &str = "flowrex";
const CLIENT_SECRET: &str = "flowrex-test-secret";
const GOOD_KEY: &str = include_str!("fixtures/bad-provider-key.pem");
const GOOD_N: &str = include_str!("fixtures/bad-provider-key.n");
const FOREIGN_KEY: &str = include_str!("fixtures/foreign-key.pem");

/// What the provider gets wrong this time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Good,
    WrongIssuer,
    WrongAudience,
    SeveralAudiencesNoAzp,
    NoNonce,
    WrongNonce,
    Expired,
    IssuedInTheFuture,
    ForeignKey,
    AlgNone,
    Hmac,
    CallbackIssOfAnother,
    /// Microsoft's multi-tenant endpoint: a token of tenant `tid` for object `oid`, its
    /// issuer naming `iss_tenant`, with address `email`.
    Tenant {
        tid: &'static str,
        oid: &'static str,
        iss_tenant: &'static str,
        email: &'static str,
    },
}

#[derive(Default)]
struct Provider {
    case: Option<Case>,
    /// Per code: the nonce and the PKCE challenge of its authorization request.
    codes: HashMap<String, (String, String)>,
    /// How often the discovery document and the key set were read.
    discovery_reads: usize,
    key_set_reads: usize,
}

type Shared = Arc<Mutex<Provider>>;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Starts the provider on a spare port: its issuer.
fn start_provider(shared: Shared) -> String {
    let port = spare_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let for_server = issuer.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(shared.clone()))
            .app_data(web::Data::new(for_server.clone()))
            .route(
                "/.well-known/openid-configuration",
                web::get().to(discovery),
            )
            .route("/jwks", web::get().to(jwks))
            .route(
                "/common/v2.0/.well-known/openid-configuration",
                web::get().to(tenant_discovery),
            )
            .route("/authorize", web::get().to(authorize))
            .route("/token", web::post().to(token))
    })
    .workers(1)
    .bind(("127.0.0.1", port))
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    issuer
}

async fn discovery(shared: web::Data<Shared>, issuer: web::Data<String>) -> HttpResponse {
    shared.lock().unwrap().discovery_reads += 1;
    let issuer = issuer.as_str();
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        // What a careless provider advertises: the service must still take only RS256.
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        "authorization_response_iss_parameter_supported": true,
    }))
}

/// Microsoft's multi-tenant discovery: the issuer is a `{tenantid}` template.
async fn tenant_discovery(shared: web::Data<Shared>, issuer: web::Data<String>) -> HttpResponse {
    shared.lock().unwrap().discovery_reads += 1;
    let issuer = issuer.as_str();
    HttpResponse::Ok().json(json!({
        "issuer": format!("{issuer}/{{tenantid}}/v2.0"),
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(shared: web::Data<Shared>) -> HttpResponse {
    shared.lock().unwrap().key_set_reads += 1;
    HttpResponse::Ok().json(json!({"keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "good",
        "n": GOOD_N.trim(), "e": "AQAB",
    }]}))
}

async fn authorize(
    shared: web::Data<Shared>,
    issuer: web::Data<String>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let code = format!("code-{}", shared.lock().unwrap().codes.len());
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    shared
        .lock()
        .unwrap()
        .codes
        .insert(code.clone(), (param("nonce"), param("code_challenge")));
    let iss = if shared.lock().unwrap().case == Some(Case::CallbackIssOfAnother) {
        "http://127.0.0.1:1".to_owned()
    } else {
        issuer.to_string()
    };
    if param("response_mode") == "form_post" {
        // As Apple answers: a page that posts the answer to the callback.
        let page = format!(
            "<form method=\"post\" action=\"{}\">\
             <input type=\"hidden\" name=\"code\" value=\"{code}\">\
             <input type=\"hidden\" name=\"state\" value=\"{}\">\
             <input type=\"hidden\" name=\"iss\" value=\"{iss}\"></form>",
            param("redirect_uri"),
            param("state")
        );
        return HttpResponse::Ok().content_type("text/html").body(page);
    }
    let mut location = reqwest::Url::parse(&param("redirect_uri")).unwrap();
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &param("state"));
    // Microsoft's multi-tenant endpoint does not send RFC 9207's `iss` (its discovery does
    // not advertise it); the others here do.
    if !param("redirect_uri").contains("/oauth/microsoft/") {
        location.query_pairs_mut().append_pair("iss", &iss);
    }
    HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, location.to_string()))
        .finish()
}

async fn token(
    shared: web::Data<Shared>,
    issuer: web::Data<String>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let provider = shared.lock().unwrap();
    let Some((nonce, challenge)) = form.get("code").and_then(|c| provider.codes.get(c)) else {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
    };
    // PKCE, as a real provider checks it.
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let computed = b64(&<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    if &computed != challenge {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
    }
    let case = provider.case.unwrap_or(Case::Good);
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": issuer.as_str(), "aud": CLIENT_ID, "sub": "user-1",
        "iat": now, "exp": now + 300, "nonce": nonce,
        "email": "someone@example.com", "email_verified": true,
    });
    match case {
        Case::WrongIssuer => claims["iss"] = json!("http://127.0.0.1:1"),
        Case::WrongAudience => claims["aud"] = json!("another-client"),
        Case::SeveralAudiencesNoAzp => claims["aud"] = json!([CLIENT_ID, "another-client"]),
        Case::NoNonce => {
            if let Some(claims) = claims.as_object_mut() {
                claims.remove("nonce");
            }
        }
        Case::WrongNonce => claims["nonce"] = json!("not-the-flows"),
        Case::Expired => {
            claims["iat"] = json!(now - 600);
            claims["exp"] = json!(now - 300);
        }
        Case::Tenant {
            tid,
            oid,
            iss_tenant,
            email,
        } => {
            claims["iss"] = json!(format!("{}/{iss_tenant}/v2.0", issuer.as_str()));
            claims["sub"] = json!(format!("pairwise-{oid}-{}", now));
            claims["tid"] = json!(tid);
            claims["oid"] = json!(oid);
            claims["email"] = json!(email);
            claims["email_verified"] = json!(false);
        }
        Case::IssuedInTheFuture => {
            claims["iat"] = json!(now + 600);
            claims["exp"] = json!(now + 900);
        }
        _ => {}
    }
    let id_token = match case {
        Case::AlgNone => format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(claims.to_string().as_bytes())
        ),
        Case::Hmac => jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
        )
        .unwrap(),
        _ => {
            let (pem, kid) = if case == Case::ForeignKey {
                (FOREIGN_KEY, "foreign")
            } else {
                (GOOD_KEY, "good")
            };
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some(kid.to_owned());
            jsonwebtoken::encode(
                &header,
                &claims,
                &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            )
            .unwrap()
        }
    };
    HttpResponse::Ok().json(json!({
        "access_token": "provider-access-token", "token_type": "Bearer",
        "expires_in": 300, "id_token": id_token,
    }))
}

#[actix_web::test]
async fn every_bad_answer_is_refused_with_its_code_and_nothing_written() {
    let shared: Shared = Arc::default();
    let issuer = start_provider(shared.clone());
    let dir = tempfile::tempdir().unwrap();
    let port = spare_port();
    let base = format!("http://127.0.0.1:{port}");
    let _service: Running = start_quiet(
        service(
            &format!("sqlite://{}/b.db", dir.path().display()),
            port,
            &base,
        )
        .env("OAUTH_PROVIDERS", "bad,apple,microsoft")
        .env("OAUTH_MICROSOFT_ISSUER", format!("{issuer}/common/v2.0"))
        .env("OAUTH_MICROSOFT_CLIENT_ID", CLIENT_ID)
        .env("OAUTH_MICROSOFT_CLIENT_SECRET", CLIENT_SECRET)
        .env("OAUTH_APPLE_ISSUER", &issuer)
        .env("OAUTH_APPLE_CLIENT_ID", CLIENT_ID)
        .env("OAUTH_APPLE_CLIENT_SECRET", CLIENT_SECRET)
        .env("OAUTH_BAD_ISSUER", &issuer)
        .env("OAUTH_BAD_CLIENT_ID", CLIENT_ID)
        .env("OAUTH_BAD_CLIENT_SECRET", CLIENT_SECRET)
        .env("OAUTH_RETURN_URLS", RETURN_TO)
        // Each refused ID token counts as a failed login of this client; eleven in a
        // row would be throttled (as they should: after 5 by default), so the throttle is off
        // here.
        .env("LOGIN_MAX_FAILURES_PER_IP", "0")
        .env("LOGIN_MAX_FAILURES_PER_ACCOUNT", "0"),
        dir.path(),
        port,
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let flow_with = |provider: &'static str, challenge: Option<&'static str>| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let mut browser = Browser::default();
            let mut authorize = format!(
                "{base}/api/v1/auth/oauth/{provider}/authorize?return_to={}",
                urlencode(RETURN_TO)
            );
            if let Some(challenge) = challenge {
                authorize.push_str(&format!(
                    "&code_challenge={challenge}&code_challenge_method=S256"
                ));
            }
            let response = browser.send(&http, http.get(authorize)).await;
            assert_eq!(response.status(), StatusCode::FOUND);
            let at_provider = response.headers()[LOCATION].to_str().unwrap().to_owned();
            let response = browser.send(&http, http.get(&at_provider)).await;
            let callback = response.headers()[LOCATION].to_str().unwrap().to_owned();
            let response = browser.send(&http, http.get(&callback)).await;
            assert_eq!(response.status(), StatusCode::FOUND, "{callback}");
            let back = response.headers()[LOCATION].to_str().unwrap().to_owned();
            (back, browser)
        }
    };
    let flow = |challenge| async move { flow_with("bad", challenge).await.0 };
    for case in [
        Case::WrongIssuer,
        Case::WrongAudience,
        Case::SeveralAudiencesNoAzp,
        Case::NoNonce,
        Case::WrongNonce,
        Case::Expired,
        Case::IssuedInTheFuture,
        Case::ForeignKey,
        Case::AlgNone,
        Case::Hmac,
        Case::CallbackIssOfAnother,
    ] {
        shared.lock().unwrap().case = Some(case);
        let back = flow(None).await;
        assert_eq!(
            query_param(&back, "error").as_deref(),
            Some("invalid_id_token"),
            "{case:?}: {back}"
        );
        assert_eq!(query_param(&back, "code"), None, "{case:?}");
    }

    // A good answer: the front end's own PKCE binds the code to its verifier.
    shared.lock().unwrap().case = Some(Case::Good);
    let verifier = "the-front-ends-own-verifier-0123456789-abcdefghij";
    let challenge: &'static str = Box::leak(
        b64(&<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes())).into_boxed_str(),
    );
    let back = flow(Some(challenge)).await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));
    let exchange = |body: Value| {
        let http = http.clone();
        let url = format!("{base}/api/v1/auth/oauth/exchange");
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    let wrong = exchange(json!({"code": code, "code_verifier": "not-it"})).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    // The code was spent by the wrong verifier: a new flow, the right verifier.
    let back = flow(Some(challenge)).await;
    let code = query_param(&back, "code").unwrap();
    let right = exchange(json!({"code": code, "code_verifier": verifier})).await;
    assert_eq!(right.status(), StatusCode::OK);
    let tokens: Value = right.json().await.unwrap();
    let me: Value = http
        .get(format!("{base}/api/v1/auth/me"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "someone@example.com");
    assert_eq!(me["id"], 1, "no account was made by any refused answer");
    // Thirteen flows; three providers on this server (bad, apple, microsoft), each
    // discovered once with its key set, and the key set read once more for the token signed
    // by a key it did not hold: nothing per sign-in but the code exchange.
    let (discoveries, key_sets) = {
        let provider = shared.lock().unwrap();
        (provider.discovery_reads, provider.key_set_reads)
    };
    assert_eq!((discoveries, key_sets), (3, 4));

    // Apple's preset answers with a form post: the service's page carries the answer on to
    // the GET callback, from its own origin, where the flow's cookie is sent.
    let mut browser = Browser::default();
    let authorize = format!(
        "{base}/api/v1/auth/oauth/apple/authorize?return_to={}",
        urlencode(RETURN_TO)
    );
    let response = browser.send(&http, http.get(authorize)).await;
    let at_provider = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        at_provider.contains("response_mode=form_post"),
        "{at_provider}"
    );
    let page = browser
        .send(&http, http.get(&at_provider))
        .await
        .text()
        .await
        .unwrap();
    let action = between(&page, "action=\"", "\"").unwrap().to_owned();
    let form = [
        (
            "code",
            between(&page, "name=\"code\" value=\"", "\"").unwrap(),
        ),
        (
            "state",
            between(&page, "name=\"state\" value=\"", "\"").unwrap(),
        ),
        (
            "iss",
            between(&page, "name=\"iss\" value=\"", "\"").unwrap(),
        ),
    ];
    // Cross-site: no cookie, no CSRF header (production requires one on other POSTs).
    let posted = http.post(&action).form(&form).send().await.unwrap();
    assert_eq!(posted.status(), StatusCode::OK);
    let csp = posted.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let page = posted.text().await.unwrap();
    let next = between(&page, "url=", "\"").unwrap().replace("&amp;", "&");
    assert!(
        next.starts_with("/api/v1/auth/oauth/apple/callback?code="),
        "{next}"
    );
    let response = browser.send(&http, http.get(format!("{base}{next}"))).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = response.headers()[LOCATION].to_str().unwrap();
    // The flow was finished with its cookie (else `invalid_state`), and the answer names
    // the address of the account the other provider made: no automatic link.
    assert_eq!(
        query_param(back, "error").as_deref(),
        Some("account_exists"),
        "{back}"
    );

    // Microsoft's multi-tenant endpoint: the discovery names a {tenantid} template; the key
    // is the tenant and object id (never the address, which Microsoft lets users set), and
    // a token whose issuer is another tenant's is refused.
    let tenant_sign_in = |case: Case| {
        shared.lock().unwrap().case = Some(case);
        let http = http.clone();
        let base = base.clone();
        async move {
            let (back, mut browser) = flow_with("microsoft", None).await;
            let Some(code) = query_param(&back, "code") else {
                return Err(back);
            };
            let request = http
                .post(format!("{base}/api/v1/auth/oauth/exchange"))
                .json(&json!({"code": code}));
            let tokens: Value = browser.send(&http, request).await.json().await.unwrap();
            let me: Value = http
                .get(format!("{base}/api/v1/auth/me"))
                .bearer_auth(tokens["access_token"].as_str().unwrap())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            Ok(me)
        }
    };
    let first = tenant_sign_in(Case::Tenant {
        tid: "tenant-a",
        oid: "object-1",
        iss_tenant: "tenant-a",
        email: "ms@example.com",
    })
    .await
    .unwrap();
    assert_eq!(first["email"], "ms@example.com");
    assert_eq!(
        first["is_verified"], false,
        "Microsoft's email claim is not proof"
    );
    // The same object with another address (the nOAuth case): the same account.
    let again = tenant_sign_in(Case::Tenant {
        tid: "tenant-a",
        oid: "object-1",
        iss_tenant: "tenant-a",
        email: "ceo@victim.example",
    })
    .await
    .unwrap();
    assert_eq!(again["id"], first["id"]);
    // The same object id in another tenant: another identity, so another account.
    let other = tenant_sign_in(Case::Tenant {
        tid: "tenant-b",
        oid: "object-1",
        iss_tenant: "tenant-b",
        email: "other@example.com",
    })
    .await
    .unwrap();
    assert_ne!(other["id"], first["id"]);
    let refused = tenant_sign_in(Case::Tenant {
        tid: "tenant-a",
        oid: "object-1",
        iss_tenant: "tenant-b",
        email: "ms@example.com",
    })
    .await
    .unwrap_err();
    assert_eq!(
        query_param(&refused, "error").as_deref(),
        Some("invalid_id_token"),
        "{refused}"
    );
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}
