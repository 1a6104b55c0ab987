//! The account events' stream on NATS JetStream, through the official client
//! (`async-nats`): each event a CloudEvent 1.0 in the structured JSON mode, published to
//! `<prefix>.<type>` with `Nats-Msg-Id` set to the event's id, and delivered only once the
//! stream acknowledged it — so that a retry after a crash is dropped by the stream's
//! duplicate window. The stream is created when missing, or used as the operator made it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage, stream};
use async_trait::async_trait;
use flowrex_domain::AccountEvent;
use flowrex_domain::events::event_time;
use flowrex_domain::ports::{DeliveryError, EventPublisher};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tokio::sync::OnceCell;

/// How long a publish waits for the stream's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection attempt waits.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one publish may take, waiting for the connection and the stream included
/// (well under the queue's lease, so that no other worker takes the delivery meanwhile).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// After the stream could not be reached, how long publishes fail at once instead of each
/// waiting for it (a round of deliveries then costs one wait, not one per event).
const BACK_OFF: Duration = Duration::from_secs(5);
/// The duplicate window of a stream the service creates: a retry within it is dropped.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 3600);
/// How long a stream the service creates keeps events.
pub const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where and how to publish.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// The server (`nats://host:4222`, credentials in it allowed).
    pub url: SecretString,
    /// Subjects are `<prefix>.<type>`.
    pub subject_prefix: String,
    /// The stream's name.
    pub stream: String,
    /// A `.creds` file (JWT and NKey), when the server asks for one.
    pub credentials_file: Option<PathBuf>,
    /// A CA certificate file: TLS is then required, verified against it.
    pub tls_ca_file: Option<PathBuf>,
    /// The CloudEvent `source` (the service's public URL).
    pub source: String,
}

/// Publishes account events to JetStream; connects on first use and keeps reconnecting.
pub struct NatsPublisher {
    settings: StreamSettings,
    context: OnceCell<jetstream::Context>,
    stream_ready: OnceCell<()>,
    failed_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl NatsPublisher {
    /// A publisher with `settings`; nothing is connected yet.
    pub fn new(settings: StreamSettings) -> Self {
        Self {
            settings,
            context: OnceCell::new(),
            stream_ready: OnceCell::new(),
            failed_at: std::sync::Mutex::new(None),
        }
    }

    /// The subject of `event`.
    pub fn subject(&self, event: &AccountEvent) -> String {
        format!("{}.{}", self.settings.subject_prefix, event.kind.as_str())
    }

    async fn connect(&self) -> anyhow::Result<jetstream::Context> {
        let mut options = async_nats::ConnectOptions::new()
            .name("flowrex")
            .connection_timeout(CONNECT_TIMEOUT)
            .retry_on_initial_connect();
        // Credentials in the URL go to the options, and the URL without them to the client
        // (which logs the address it connects to).
        let mut address = self.settings.url.expose_secret().to_owned();
        if let Ok(mut url) = url::Url::parse(&address)
            && !url.username().is_empty()
        {
            let user = percent_decoded(url.username());
            options = match url.password() {
                Some(password) => options.user_and_password(user, percent_decoded(password)),
                None => options.token(user),
            };
            let _ = url.set_username("");
            let _ = url.set_password(None);
            address = url.to_string();
        }
        if let Some(path) = &self.settings.credentials_file {
            options = options
                .credentials_file(path)
                .await
                .with_context(|| format!("reading {}", path.display()))?;
        }
        if let Some(path) = &self.settings.tls_ca_file {
            options = options
                .add_root_certificates(path.clone())
                .require_tls(true);
        }
        let client = options
            .connect(address.as_str())
            .await
            .map_err(|error| anyhow!("cannot connect to NATS: {error}"))?;
        let mut context = jetstream::new(client);
        context.set_timeout(ACK_TIMEOUT);
        Ok(context)
    }

    /// The stream, created when missing (subjects `<prefix>.>`, file storage, limits
    /// retention, [`MAX_AGE`], [`DUPLICATE_WINDOW`]); one made by the operator is used as
    /// it is.
    async fn ensure_stream(&self, context: &jetstream::Context) -> anyhow::Result<()> {
        context
            .get_or_create_stream(stream::Config {
                name: self.settings.stream.clone(),
                subjects: vec![format!("{}.>", self.settings.subject_prefix)],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                max_age: MAX_AGE,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|error| anyhow!("cannot create or read the stream: {error}"))
    }

    /// Connects and makes sure of the stream, once; fails at once for [`BACK_OFF`] after
    /// the stream could not be reached.
    async fn ready(&self) -> Result<&jetstream::Context, DeliveryError> {
        let recent = self
            .failed_at
            .lock()
            .map(|failed| failed.is_some_and(|at| at.elapsed() < BACK_OFF))
            .unwrap_or(false);
        if recent && self.stream_ready.get().is_none() {
            return Err(DeliveryError::Transient(anyhow!(
                "the stream is not reachable yet"
            )));
        }
        let context = self
            .context
            .get_or_try_init(|| self.connect())
            .await
            .map_err(DeliveryError::Transient)?;
        if let Err(error) = self
            .stream_ready
            .get_or_try_init(|| self.ensure_stream(context))
            .await
        {
            if let Ok(mut failed) = self.failed_at.lock() {
                *failed = Some(std::time::Instant::now());
            }
            return Err(DeliveryError::Transient(error));
        }
        Ok(context)
    }

    /// `event` as a CloudEvent 1.0, structured JSON mode.
    pub fn cloud_event(&self, event: &AccountEvent) -> serde_json::Value {
        let mut body = json!({
            "specversion": "1.0",
            "id": event.id,
            "source": self.settings.source,
            "type": event.kind.as_str(),
            "time": event_time(event.time),
            "datacontenttype": "application/json",
            "data": event.data,
        });
        if let (Some(user), Some(body)) = (event.user, body.as_object_mut()) {
            body.insert("subject".to_owned(), json!(user.get().to_string()));
        }
        body
    }
}

/// `text` (a URL's user or password) percent-decoded (`+` stays itself).
fn percent_decoded(text: &str) -> String {
    let escaped = text.replace('+', "%2B");
    url::form_urlencoded::parse(format!("x={escaped}").as_bytes())
        .next()
        .map_or_else(|| text.to_owned(), |(_, value)| value.into_owned())
}

#[async_trait]
impl EventPublisher for NatsPublisher {
    async fn publish(&self, event: &AccountEvent) -> Result<(), DeliveryError> {
        tokio::time::timeout(PUBLISH_TIMEOUT, self.publish_now(event))
            .await
            .unwrap_or_else(|_| {
                Err(DeliveryError::Transient(anyhow!(
                    "no acknowledgement within {PUBLISH_TIMEOUT:?}"
                )))
            })
    }
}

impl NatsPublisher {
    async fn publish_now(&self, event: &AccountEvent) -> Result<(), DeliveryError> {
        let context = self.ready().await?;
        let payload = serde_json::to_vec(&self.cloud_event(event))
            .map_err(|error| DeliveryError::Permanent(error.into()))?;
        let mut headers = HeaderMap::new();
        headers.insert("Content-Type", "application/cloudevents+json");
        let ack = context
            .send_publish(
                self.subject(event),
                PublishMessage::build()
                    .payload(payload.into())
                    .headers(headers)
                    .message_id(&event.id),
            )
            .await
            .map_err(|error| DeliveryError::Transient(anyhow!("publish failed: {error}")))?
            .await
            .map_err(|error| DeliveryError::Transient(anyhow!("not acknowledged: {error}")))?;
        if ack.duplicate {
            tracing::info!(event_id = event.id, "event was in the stream already");
        }
        Ok(())
    }
}

impl std::fmt::Debug for NatsPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsPublisher")
            .field("stream", &self.settings.stream)
            .field("subject_prefix", &self.settings.subject_prefix)
            .finish_non_exhaustive()
    }
}
