//! The request body, read within a deadline.

use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;

use crate::error::ApiError;

/// How long a request body may take to arrive (`REQUEST_BODY_TIMEOUT_SECONDS`), as app
/// data. actix-web times out a request *head* that stalls (408 after 5 s) but not a body:
/// without this, a client that sends `Content-Length: 100` and then 10 bytes holds its
/// connection and a task for as long as it likes.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// The default of [`BodyTimeout`], for apps that do not set one.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// The whole request body, read within the [`BodyTimeout`] (and the payload size limit),
/// with its raw `Content-Type`, which decides how it is read: a body that does not arrive
/// in time is answered 408 and its connection closed.
pub struct Body {
    content_type: Option<HeaderValue>,
    bytes: web::Bytes,
}

impl Body {
    /// The raw `Content-Type` header.
    pub fn content_type(&self) -> Option<&[u8]> {
        self.content_type.as_ref().map(HeaderValue::as_bytes)
    }

    /// The bytes as they arrived.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl FromRequest for Body {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let deadline = request
            .app_data::<web::Data<BodyTimeout>>()
            .map_or(DEFAULT_BODY_TIMEOUT, |timeout| timeout.0);
        let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = web::Bytes::from_request(request, payload);
        Box::pin(async move {
            match tokio::time::timeout(deadline, bytes).await {
                Ok(read) => read.map(|bytes| Body {
                    content_type,
                    bytes,
                }),
                Err(_) => Err(ApiError::RequestTimeout.into()),
            }
        })
    }
}
