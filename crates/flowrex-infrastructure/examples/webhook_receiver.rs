//! A service of another kind receiving Flowrex's account events as webhooks, in a few lines
//! of actix-web: it checks each delivery as the Standard Webhooks specification says — the
//! `webhook-signature` (any `v1,` signature by the endpoint's `whsec_` secret over
//! `webhook-id.webhook-timestamp.body`, compared in constant time) and the timestamp within
//! 5 minutes of its clock —, drops a `webhook-id` it has seen (deliveries are at least
//! once), and deletes what it keeps about a user on `user.deleted`.
//!
//! ```sh
//! # check itself (a good delivery, a repeat, a tampered body, an old timestamp) and exit:
//! # what CI runs
//! cargo run -p flowrex-infrastructure --example webhook_receiver
//! # serve on 127.0.0.1:8090 for an endpoint registered at Flowrex with this secret
//! WEBHOOK_SECRET=whsec_… cargo run -p flowrex-infrastructure --example webhook_receiver -- serve
//! ```

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::Mutex;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::{Context, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How far a delivery's timestamp may be from this service's clock.
const TOLERANCE_SECONDS: i64 = 300;

/// What this service keeps: its own data per Flowrex user, and the deliveries it handled.
struct Receiver {
    key: Vec<u8>,
    orders: Mutex<HashMap<i64, Vec<String>>>,
    seen: Mutex<HashSet<String>>,
}

impl Receiver {
    fn new(secret: &str) -> anyhow::Result<Self> {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
            .context("the secret is whsec_ and base64")?;
        Ok(Self {
            key,
            orders: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashSet::new()),
        })
    }

    /// Whether the headers sign `body` with this endpoint's secret, at a time near now.
    fn verify(&self, id: &str, timestamp: &str, signatures: &str, body: &[u8]) -> bool {
        let Ok(sent) = timestamp.parse::<i64>() else {
            return false;
        };
        if (chrono::Utc::now().timestamp() - sent).abs() > TOLERANCE_SECONDS {
            return false;
        }
        signatures.split(' ').any(|signature| {
            let Some(encoded) = signature.strip_prefix("v1,") else {
                return false;
            };
            let Ok(given) = STANDARD.decode(encoded) else {
                return false;
            };
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
                return false;
            };
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            // `verify_slice` compares in constant time.
            mac.verify_slice(&given).is_ok()
        })
    }

    /// Applies one verified event; `false` if it was handled before.
    fn apply(&self, id: &str, event: &Value) -> bool {
        let first = self
            .seen
            .lock()
            .map(|mut seen| seen.insert(id.to_owned()))
            .unwrap_or(false);
        if !first {
            return false;
        }
        let user = event["data"]["user"]["id"].as_i64();
        if let (Some(user), Ok(mut orders)) = (user, self.orders.lock()) {
            match event["type"].as_str() {
                Some("user.created") => {
                    orders.entry(user).or_default();
                }
                Some("user.deleted") => {
                    orders.remove(&user);
                }
                _ => {}
            }
        }
        true
    }
}

/// `POST /flowrex/events`: 204 for a verified delivery (new or repeated), 401 otherwise.
async fn receive(
    receiver: web::Data<Receiver>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    let id = header("webhook-id");
    if !receiver.verify(
        id,
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
    ) {
        return HttpResponse::Unauthorized().finish();
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    receiver.apply(id, &event);
    HttpResponse::NoContent().finish()
}

fn serve(
    receiver: web::Data<Receiver>,
    listener: TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(receiver.clone())
            .route("/flowrex/events", web::post().to(receive))
    })
    .workers(1)
    .listen(listener)?
    .run())
}

/// Sends itself deliveries as Flowrex signs them (with Flowrex's own signer) and checks
/// the answers.
async fn check_itself() -> anyhow::Result<()> {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let receiver = web::Data::new(Receiver::new(secret)?);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/flowrex/events", listener.local_addr()?);
    let server = serve(receiver.clone(), listener)?;
    let handle = server.handle();
    tokio::spawn(server);
    let http = reqwest::Client::new();
    let send = |id: &'static str, timestamp: i64, body: String, signed_body: String| {
        let http = http.clone();
        let url = url.clone();
        let signature = flowrex_infrastructure::webhook::signature(
            &[secrecy::SecretString::from(secret.to_owned())],
            id,
            timestamp,
            signed_body.as_bytes(),
        );
        async move {
            http.post(url)
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body)
                .send()
                .await
                .map(|response| response.status().as_u16())
        }
    };
    let now = chrono::Utc::now().timestamp();
    let created = r#"{"type":"user.created","timestamp":"2026-12-07T12:00:00.000000Z","data":{"user":{"id":7}}}"#;
    let deleted = r#"{"type":"user.deleted","timestamp":"2026-12-07T12:05:00.000000Z","data":{"user":{"id":7}}}"#;
    ensure!(send("evt-1", now, created.into(), created.into()).await? == 204);
    ensure!(receiver.orders.lock().is_ok_and(|o| o.contains_key(&7)));
    ensure!(
        send("evt-1", now, created.into(), created.into()).await? == 204,
        "a repeat is fine"
    );
    let tampered = deleted.replace("\"id\":7", "\"id\":8");
    ensure!(
        send("evt-2", now, tampered, deleted.into()).await? == 401,
        "tampered body"
    );
    ensure!(
        send("evt-2", now - 3600, deleted.into(), deleted.into()).await? == 401,
        "old timestamp"
    );
    ensure!(send("evt-2", now, deleted.into(), deleted.into()).await? == 204);
    ensure!(
        receiver.orders.lock().is_ok_and(|o| !o.contains_key(&7)),
        "user 7's data deleted"
    );
    handle.stop(true).await;
    println!("webhook receiver: signature, timestamp, repeats and user.deleted checked");
    Ok(())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("serve") {
        let secret = std::env::var("WEBHOOK_SECRET").context("set WEBHOOK_SECRET")?;
        let receiver = web::Data::new(Receiver::new(&secret)?);
        let listener = TcpListener::bind("127.0.0.1:8090")?;
        println!("receiving on http://127.0.0.1:8090/flowrex/events");
        return Ok(serve(receiver, listener)?.await?);
    }
    check_itself().await
}
