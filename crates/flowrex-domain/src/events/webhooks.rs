//! Webhook endpoints, managed by superusers: registered with a signing secret shown once,
//! changed, removed, given a new secret (the old one signs beside it for a day), sent a
//! test event, and their deliveries' log. Every change is audited with it.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::SecretString;
use serde_json::json;

use crate::ports::{
    Clock, DeliveryRecord, EventFilter, EventQueueError, NewWebhookEndpoint, WebhookEndpoint,
    WebhookEndpointChange, WebhookSender, WebhookStore,
};
use crate::{AccountEvent, AuditAction, AuditEvent, AuditUser, Authenticated};

/// Deliveries one log page shows, at most.
pub const MAX_DELIVERIES_SHOWN: u64 = 100;
/// Endpoints that may be registered.
pub const MAX_ENDPOINTS: usize = 50;
/// How long the secret before a rotation keeps signing.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);
/// The longest URL accepted.
const MAX_URL_CHARS: usize = 2000;
/// The longest description accepted.
const MAX_DESCRIPTION_CHARS: usize = 255;

failure_enum! {
    /// Why a webhook call failed.
    pub enum WebhookError {
        /// No such endpoint.
        #[error("webhook endpoint not found")]
        NotFound,
        /// The URL cannot receive webhooks (why, for the caller).
        #[error("{0}")]
        Url(String),
        /// The event types are not `["*"]` or a list of known types.
        #[error("events must be [\"*\"] or a list of event types")]
        Events,
        /// The description is too long.
        #[error("description is too long")]
        Description,
        /// The endpoint is disabled (a test is not queued for it).
        #[error("webhook endpoint is disabled")]
        Disabled,
        /// [`MAX_ENDPOINTS`] are registered already.
        #[error("too many webhook endpoints")]
        TooMany,
    }
    /// The store cannot be reached.
    unavailable: "webhook store unavailable";
}

impl From<EventQueueError> for WebhookError {
    fn from(error: EventQueueError) -> Self {
        Self::Unavailable(anyhow::Error::new(error))
    }
}

/// A new endpoint as a superuser asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// Where.
    pub url: String,
    /// The types, as sent: `["*"]` or names.
    pub events: Vec<String>,
    /// What for.
    pub description: Option<String>,
}

/// An endpoint with the secret that signs for it, shown this once.
#[derive(Debug)]
pub struct WithSecret {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// `whsec_` and the base64 key.
    pub secret: SecretString,
}

/// A change as a superuser asks for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPatch {
    /// A new URL.
    pub url: Option<String>,
    /// New types.
    pub events: Option<Vec<String>>,
    /// Enabled or not.
    pub enabled: Option<bool>,
    /// A new description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
}

/// The webhook administration use cases.
pub struct Webhooks {
    store: Arc<dyn WebhookStore>,
    sender: Arc<dyn WebhookSender>,
    clock: Arc<dyn Clock>,
}

impl Webhooks {
    /// Over `store`, vetting URLs with `sender`.
    pub fn new(
        store: Arc<dyn WebhookStore>,
        sender: Arc<dyn WebhookSender>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            sender,
            clock,
        }
    }

    fn audit(caller: &Authenticated, action: AuditAction) -> AuditEvent {
        let mut event = AuditEvent::new(action).by(AuditUser::User(caller.user.id()));
        event.session = Some(caller.session.clone());
        event
    }

    async fn vet(&self, url: &str) -> Result<String, WebhookError> {
        let url = url.trim();
        if url.chars().count() > MAX_URL_CHARS {
            return Err(WebhookError::Url("url is too long".to_owned()));
        }
        self.sender.vet(url).await.map_err(WebhookError::Url)?;
        Ok(url.to_owned())
    }

    /// Registers an endpoint, enabled, with a new secret.
    ///
    /// # Errors
    /// [`WebhookError`].
    pub async fn create(
        &self,
        caller: &Authenticated,
        request: WebhookRequest,
    ) -> Result<WithSecret, WebhookError> {
        let events = EventFilter::parse(&request.events).ok_or(WebhookError::Events)?;
        let description = described(request.description)?;
        let url = self.vet(&request.url).await?;
        if self.store.list().await?.len() >= MAX_ENDPOINTS {
            return Err(WebhookError::TooMany);
        }
        let secret = new_secret();
        // The host only: a receiver's URL may carry its own secret (a path token).
        let audit = Self::audit(caller, AuditAction::WebhookCreated)
            .with("host", host_of(&url))
            .with("events", json!(events.names()));
        let endpoint = self
            .store
            .create(
                NewWebhookEndpoint {
                    url,
                    events,
                    description,
                    secret: secret.clone(),
                },
                self.clock.now(),
                audit,
            )
            .await?;
        Ok(WithSecret { endpoint, secret })
    }

    /// Every endpoint.
    ///
    /// # Errors
    /// [`WebhookError`].
    pub async fn list(&self) -> Result<Vec<WebhookEndpoint>, WebhookError> {
        Ok(self.store.list().await?)
    }

    /// The endpoint `id`.
    ///
    /// # Errors
    /// [`WebhookError::NotFound`], or the store's.
    pub async fn get(&self, id: i64) -> Result<WebhookEndpoint, WebhookError> {
        self.store.get(id).await?.ok_or(WebhookError::NotFound)
    }

    /// Changes the endpoint `id`.
    ///
    /// # Errors
    /// [`WebhookError`].
    pub async fn update(
        &self,
        caller: &Authenticated,
        id: i64,
        patch: WebhookPatch,
    ) -> Result<WebhookEndpoint, WebhookError> {
        let events = match patch.events {
            Some(names) => Some(EventFilter::parse(&names).ok_or(WebhookError::Events)?),
            None => None,
        };
        let description = match patch.description {
            Some(description) => Some(described(description)?),
            None => None,
        };
        let url = match patch.url {
            Some(url) => Some(self.vet(&url).await?),
            None => None,
        };
        let mut fields = Vec::new();
        for (field, set) in [
            ("url", url.is_some()),
            ("events", events.is_some()),
            ("enabled", patch.enabled.is_some()),
            ("description", description.is_some()),
        ] {
            if set {
                fields.push(field);
            }
        }
        let audit = Self::audit(caller, AuditAction::WebhookUpdated)
            .with("webhook_id", id)
            .with("fields", json!(fields));
        let change = WebhookEndpointChange {
            url,
            events,
            enabled: patch.enabled,
            description,
        };
        self.store
            .update(id, change, self.clock.now(), audit)
            .await?
            .ok_or(WebhookError::NotFound)
    }

    /// Removes the endpoint `id`: nothing more is sent to it.
    ///
    /// # Errors
    /// [`WebhookError::NotFound`], or the store's.
    pub async fn delete(&self, caller: &Authenticated, id: i64) -> Result<(), WebhookError> {
        let audit = Self::audit(caller, AuditAction::WebhookDeleted).with("webhook_id", id);
        if self.store.delete(id, self.clock.now(), audit).await? {
            Ok(())
        } else {
            Err(WebhookError::NotFound)
        }
    }

    /// A new secret for `id`; the old one signs beside it for [`ROTATION_OVERLAP`].
    ///
    /// # Errors
    /// [`WebhookError::NotFound`], or the store's.
    pub async fn rotate_secret(
        &self,
        caller: &Authenticated,
        id: i64,
    ) -> Result<WithSecret, WebhookError> {
        let now = self.clock.now();
        let secret = new_secret();
        let audit = Self::audit(caller, AuditAction::WebhookSecretRotated).with("webhook_id", id);
        let endpoint = self
            .store
            .rotate(id, secret.clone(), now + ROTATION_OVERLAP, now, audit)
            .await?
            .ok_or(WebhookError::NotFound)?;
        Ok(WithSecret { endpoint, secret })
    }

    /// Queues a `webhook.test` event for `id` alone; its id.
    ///
    /// # Errors
    /// [`WebhookError::NotFound`], [`WebhookError::Disabled`], or the store's.
    pub async fn send_test(&self, id: i64) -> Result<String, WebhookError> {
        if !self.get(id).await?.enabled {
            return Err(WebhookError::Disabled);
        }
        let now = self.clock.now();
        let event = AccountEvent::test(now);
        let event_id = event.id.clone();
        if self.store.queue(id, event, now).await? {
            Ok(event_id)
        } else {
            Err(WebhookError::NotFound)
        }
    }

    /// The latest deliveries to `id`, newest first.
    ///
    /// # Errors
    /// [`WebhookError::NotFound`], or the store's.
    pub async fn deliveries(
        &self,
        id: i64,
        limit: u64,
    ) -> Result<Vec<DeliveryRecord>, WebhookError> {
        self.get(id).await?;
        Ok(self
            .store
            .deliveries(id, limit.clamp(1, MAX_DELIVERIES_SHOWN))
            .await?)
    }
}

/// The host part of `url` (between `://` and the next `/`, `?` or `#`, without
/// credentials), for the audit trail.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_owned()
}

/// A description within bounds (blank is none).
fn described(description: Option<String>) -> Result<Option<String>, WebhookError> {
    match description.map(|text| text.trim().to_owned()) {
        Some(text) if text.chars().count() > MAX_DESCRIPTION_CHARS => {
            Err(WebhookError::Description)
        }
        Some(text) if text.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// A new signing secret: `whsec_` and 32 random bytes in base64, as the Standard
/// Webhooks specification writes them.
fn new_secret() -> SecretString {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    SecretString::from(format!("whsec_{}", STANDARD.encode(key)))
}
