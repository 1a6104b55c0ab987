//! A small service of another kind that protects its own route with Flowrex's access
//! tokens, in a few lines of actix-web: a `TokenVerifier` checks the bearer token, with the
//! shared secret (HS256, as Flowrex's default) or with the JWK set Flowrex publishes (EdDSA
//! or RS256: no secret at all).
//!
//! ```sh
//! # check itself in both modes and exit (what CI runs; the key-pair mode needs openssl)
//! cargo run -p flowrex-infrastructure --example protected_service
//! # serve on 127.0.0.1:8080 beside a running Flowrex
//! FLOWREX_JWT_SECRET=… cargo run -p flowrex-infrastructure --example protected_service -- serve
//! FLOWREX_JWKS_URL=http://127.0.0.1:8000/.well-known/jwks.json \
//!   cargo run -p flowrex-infrastructure --example protected_service -- serve
//! ```
//!
//! A token is checked on its own here: a session logged out at Flowrex keeps its access
//! token valid until it expires (`ACCESS_TOKEN_EXPIRE_MINUTES`). A route that must refuse
//! it at once asks Flowrex's `GET /api/v1/auth/me` instead.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::{Context, ensure};
use chrono::{Duration, Utc};
use flowrex_domain::ports::{TokenIssuer, TokenVerifier};
use flowrex_domain::{SessionId, TokenKind, TokenRequest, UserId};
use flowrex_infrastructure::jwt::JwksVerifier;
use flowrex_infrastructure::{JwtClaimsPolicy, JwtKeys, JwtTokens};
use secrecy::SecretString;

/// The protected route: 200 with the caller's user id, or 401.
async fn report(verifier: web::Data<dyn TokenVerifier>, request: HttpRequest) -> HttpResponse {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match token.map(|token| verifier.verify(token, TokenKind::Access, Utc::now())) {
        Some(Ok(claims)) => HttpResponse::Ok().json(serde_json::json!({
            "report": "quarterly figures",
            "for_user": claims.subject.get(),
        })),
        _ => HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .json(serde_json::json!({"detail": "Invalid credentials"})),
    }
}

fn serve(
    listener: TcpListener,
    verifier: Arc<dyn TokenVerifier>,
) -> std::io::Result<actix_web::dev::Server> {
    let verifier = web::Data::from(verifier);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .route("/report", web::get().to(report))
    })
    .listen(listener)?
    .workers(1)
    .run())
}

/// The verifier the environment asks for: by the JWK set at `FLOWREX_JWKS_URL`, else by
/// the shared secret `FLOWREX_JWT_SECRET`. Issuer and audience are Flowrex's defaults.
async fn verifier_from_environment() -> anyhow::Result<Arc<dyn TokenVerifier>> {
    let policy = JwtClaimsPolicy::default();
    if let Ok(url) = std::env::var("FLOWREX_JWKS_URL") {
        let jwks = reqwest::get(&url)
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        return Ok(Arc::new(JwksVerifier::from_json(&jwks, &policy)?));
    }
    let secret = std::env::var("FLOWREX_JWT_SECRET")
        .context("set FLOWREX_JWKS_URL or FLOWREX_JWT_SECRET")?;
    Ok(Arc::new(JwtTokens::new(
        "HS256",
        &JwtKeys::Secret(SecretString::from(secret)),
        &policy,
    )?))
}

/// An access token as Flowrex issues them, from `issuer`.
fn access_token(
    issuer: &dyn TokenIssuer,
    user: i64,
    valid_for: Duration,
) -> anyhow::Result<String> {
    let now = Utc::now();
    Ok(issuer.issue(&TokenRequest {
        subject: UserId::new(user),
        kind: TokenKind::Access,
        session: SessionId::generate(),
        issued_at: now,
        expires_at: now + valid_for,
        assurance: flowrex_domain::Assurance::PASSWORD,
    })?)
}

/// Serves with `verifier` on a spare port and checks the route: a live token of `issuer`
/// gets 200 naming the user; none, an expired one and a refresh token get 401.
async fn check(issuer: &JwtTokens, verifier: Arc<dyn TokenVerifier>) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/report", listener.local_addr()?);
    let server = serve(listener, verifier)?;
    let handle = server.handle();
    let running = actix_web::rt::spawn(server);
    let client = reqwest::Client::new();
    let get = |token: Option<String>| {
        let mut request = client.get(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let ok = get(Some(access_token(issuer, 42, Duration::minutes(30))?)).await?;
    ensure!(ok.status() == 200, "a live token: {}", ok.status());
    let body: serde_json::Value = ok.json().await?;
    ensure!(body["for_user"] == 42, "{body}");
    for (what, token) in [
        ("no token", None),
        (
            "an expired token",
            Some(access_token(issuer, 42, Duration::minutes(-5))?),
        ),
        ("garbage", Some("not.a.token".to_owned())),
    ] {
        let status = get(token).await?.status();
        ensure!(status == 401, "{what}: {status}");
    }
    handle.stop(true).await;
    running.await??;
    Ok(())
}

/// A fresh Ed25519 key pair, as an operator makes one for `JWT_PRIVATE_KEY_FILE`.
fn ed25519_pem(dir: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let path = dir.join("flowrex.pem");
    let status = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&path)
        .status()
        .context("openssl")?;
    ensure!(status.success(), "openssl genpkey failed");
    Ok(std::fs::read(path)?)
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("serve") {
        let verifier = verifier_from_environment().await?;
        println!("serving GET http://127.0.0.1:8080/report");
        serve(TcpListener::bind("127.0.0.1:8080")?, verifier)?.await?;
        return Ok(());
    }
    let policy = JwtClaimsPolicy::default();

    // A shared secret: the service holds Flowrex's JWT_SECRET_KEY and verifies as Flowrex does.
    let secret = JwtKeys::Secret(SecretString::from("example-shared-secret"));
    let flowrex = JwtTokens::new("HS256", &secret, &policy)?;
    let verifier = Arc::new(JwtTokens::new("HS256", &secret, &policy)?);
    check(&flowrex, verifier).await?;
    println!("shared secret: a Flowrex access token opens /report; others get 401");

    // A key pair: the service holds only the JWK set Flowrex publishes.
    let dir = tempfile::tempdir()?;
    let keys = JwtKeys::KeyPair {
        private_pem: ed25519_pem(dir.path())?,
        retired_public_pems: Vec::new(),
    };
    let flowrex = JwtTokens::new("EdDSA", &keys, &policy)?;
    let published = serde_json::to_vec(flowrex.jwks())?;
    let verifier = Arc::new(JwksVerifier::from_json(&published, &policy)?);
    check(&flowrex, verifier).await?;
    println!("JWK set: a Flowrex access token opens /report; others get 401");
    Ok(())
}
