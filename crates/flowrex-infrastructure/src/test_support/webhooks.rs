//! A real HTTP server on loopback that receives webhooks (actix-web), for the tests of
//! account events: it records every request (its `webhook-*` headers and body) and answers
//! as the test scripts it — statuses, delays — and can stop and listen again on its port.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub raw: String,
    pub body: Value,
    /// What it answered.
    pub answered: u16,
}

/// What the receiver answers next: statuses (then 200), and delays before answering.
#[derive(Debug, Default)]
struct Script {
    statuses: VecDeque<u16>,
    delays: VecDeque<Duration>,
}

#[derive(Clone, Default)]
struct Shared {
    log: Arc<Mutex<Vec<Delivery>>>,
    script: Arc<Mutex<Script>>,
}

/// A real HTTP server on loopback that records every webhook request it gets.
pub struct Receiver {
    pub port: u16,
    shared: Shared,
    handle: Option<actix_web::dev::ServerHandle>,
}

async fn receive(
    request: HttpRequest,
    payload: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let (status, delay) = {
        let mut script = lock(&shared.script);
        (
            script.statuses.pop_front().unwrap_or(200),
            script.delays.pop_front(),
        )
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let raw = String::from_utf8_lossy(&payload).into_owned();
    lock(&shared.log).push(Delivery {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
        answered: status,
    });
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).finish()
}

impl Receiver {
    /// A receiver on a free port.
    pub async fn start() -> Self {
        let mut receiver = Self {
            port: 0,
            shared: Shared::default(),
            handle: None,
        };
        receiver.listen().await;
        receiver
    }

    async fn listen(&mut self) {
        let shared = self.shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .bind(("127.0.0.1", self.port))
        .unwrap_or_else(|e| panic!("the receiver cannot bind port {}: {e}", self.port));
        self.port = server.addrs()[0].port();
        let server = server.run();
        self.handle = Some(server.handle());
        tokio::spawn(server);
    }

    /// Stops listening (connections are then refused).
    pub async fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop(false).await;
        }
    }

    /// Listens again on the same port.
    pub async fn resume(&mut self) {
        self.listen().await;
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/flowrex", self.port)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Delivery> {
        lock(&self.shared.log).clone()
    }

    /// The requests answered 2xx.
    pub fn delivered(&self) -> Vec<Delivery> {
        self.requests()
            .into_iter()
            .filter(|d| (200..300).contains(&d.answered))
            .collect()
    }

    /// Answers the next requests with `statuses`, then 200 again.
    pub fn answer_next(&self, statuses: &[u16]) {
        lock(&self.shared.script).statuses.extend(statuses);
    }

    /// Waits `delay` before answering the next request.
    pub fn delay_next(&self, delay: Duration) {
        lock(&self.shared.script).delays.push_back(delay);
    }

    /// Waits until `count` requests were answered 2xx, or fails.
    pub async fn wait_delivered(&self, count: usize, within: Duration) -> Vec<Delivery> {
        let deadline = Instant::now() + within;
        loop {
            let delivered = self.delivered();
            if delivered.len() >= count {
                return delivered;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} deliveries after {within:?}: {:#?}",
                delivered.len(),
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
