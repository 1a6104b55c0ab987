//! A service of another kind following Flowrex's account events on the NATS JetStream
//! stream with a durable consumer: it keeps its place on the server (a restart goes on
//! after the last event it acknowledged), drops an event id it has seen (delivery is at
//! least once), and deletes what it keeps about a user on `user.deleted`. Each message is
//! a CloudEvent 1.0 (structured JSON mode); `subject` is the user's id.
//!
//! ```sh
//! # check itself against a NATS server (default nats://127.0.0.1:4222) and exit: it
//! # publishes events as Flowrex does to a stream of its own, consumes some, "restarts", and
//! # consumes the rest (what CI runs)
//! cargo run -p flowrex-infrastructure --example nats_consumer
//! # follow a running Flowrex's stream (EVENTS_NATS_STREAM, default FLOWREX_EVENTS)
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p flowrex-infrastructure --example nats_consumer -- follow FLOWREX_EVENTS
//! ```

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::{Context, anyhow, ensure};
use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use serde_json::{Value, json};

/// This service's name at the stream: its durable consumer.
const DURABLE: &str = "orders-service";

/// What this service keeps per Flowrex user, and the event ids it handled.
#[derive(Default)]
struct Orders {
    by_user: HashMap<String, Vec<String>>,
    seen: HashSet<String>,
}

impl Orders {
    fn apply(&mut self, event: &Value) {
        let (Some(id), Some(user)) = (event["id"].as_str(), event["subject"].as_str()) else {
            return;
        };
        if !self.seen.insert(id.to_owned()) {
            return;
        }
        match event["type"].as_str() {
            Some("user.created") => {
                self.by_user.entry(user.to_owned()).or_default();
            }
            Some("user.deleted") => {
                self.by_user.remove(user);
            }
            _ => {}
        }
    }
}

/// The durable consumer of `stream` (made on first use; the server keeps its place).
async fn consumer_of(
    context: &jetstream::Context,
    stream: &str,
) -> anyhow::Result<consumer::PullConsumer> {
    let stream = context
        .get_stream(stream)
        .await
        .map_err(|e| anyhow!("no stream {stream}: {e}"))?;
    stream
        .get_or_create_consumer(
            DURABLE,
            consumer::pull::Config {
                durable_name: Some(DURABLE.to_owned()),
                ack_policy: consumer::AckPolicy::Explicit,
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow!("consumer: {e}"))
}

/// Takes up to `limit` events, applying and acknowledging each; how many.
async fn consume(
    consumer: &consumer::PullConsumer,
    orders: &mut Orders,
    limit: usize,
) -> anyhow::Result<usize> {
    let mut batch = consumer
        .fetch()
        .max_messages(limit)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .map_err(|e| anyhow!("fetch: {e}"))?;
    let mut taken = 0;
    while let Some(message) = batch.next().await {
        let message = message.map_err(|e| anyhow!("message: {e}"))?;
        let event: Value = serde_json::from_slice(&message.payload).context("a CloudEvent")?;
        orders.apply(&event);
        message.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
        taken += 1;
    }
    Ok(taken)
}

/// Publishes events to a stream of its own as Flowrex does, consumes two, starts over
/// with a new connection (as after a restart) and consumes the rest.
async fn check_itself(url: &str) -> anyhow::Result<()> {
    let context = jetstream::new(async_nats::connect(url).await?);
    let name = format!("FLOWREX_EXAMPLE_{}", std::process::id());
    let prefix = format!("flowrex_example_{}.events", std::process::id());
    context
        .create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![format!("{prefix}.>")],
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("stream: {e}"))?;
    for (id, kind, user) in [
        ("e1", "user.created", "7"),
        ("e2", "user.created", "8"),
        ("e3", "user.deleted", "7"),
    ] {
        let event = json!({
            "specversion": "1.0", "id": id, "source": "http://127.0.0.1:8000", "type": kind,
            "subject": user, "time": "2026-12-07T12:00:00.000000Z",
            "datacontenttype": "application/json",
            "data": { "user": { "id": user.parse::<i64>()? } },
        });
        context
            .publish(
                format!("{prefix}.{kind}"),
                serde_json::to_vec(&event)?.into(),
            )
            .await
            .map_err(|e| anyhow!("publish: {e}"))?
            .await
            .map_err(|e| anyhow!("ack: {e}"))?;
    }
    let mut orders = Orders::default();
    let first = consume(&consumer_of(&context, &name).await?, &mut orders, 2).await?;
    ensure!(first == 2 && orders.by_user.len() == 2, "two users known");
    // A restart: a new connection, the same durable consumer, on from its place.
    let again = jetstream::new(async_nats::connect(url).await?);
    let rest = consume(&consumer_of(&again, &name).await?, &mut orders, 10).await?;
    ensure!(rest == 1, "only the event not acknowledged yet: {rest}");
    ensure!(
        !orders.by_user.contains_key("7") && orders.by_user.contains_key("8"),
        "user 7's data deleted"
    );
    let _ = context.delete_stream(&name).await;
    println!("nats consumer: a durable consumer kept its place, and user.deleted was applied");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("follow") {
        let stream = args.get(2).map_or("FLOWREX_EVENTS", String::as_str);
        let context = jetstream::new(async_nats::connect(url.as_str()).await?);
        let consumer = consumer_of(&context, stream).await?;
        let mut orders = Orders::default();
        loop {
            let taken = consume(&consumer, &mut orders, 100).await?;
            if taken > 0 {
                println!("{taken} events; {} users known", orders.by_user.len());
            }
        }
    }
    check_itself(&url).await
}
