//! A request body read as its declaration says.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;

use super::Body;
use crate::error::ApiError;
use crate::validation::Rejection;
use crate::validation::body::RequestBody;

/// The body of the request read as `B` (a [`RequestBody`]): the whole body arrives (within
/// its deadline and size limit) and is read before the handler runs. A body that does not
/// fit is answered 422 when the handler takes the value ([`Parsed::value`]), not during
/// extraction: the handler's other extractors, polled together with this one, answer
/// first (401 for a bad token, 403 for a user who is not a superuser), whatever the body.
pub struct Parsed<B: RequestBody> {
    value: Result<B::Value, Rejection>,
    body: PhantomData<B>,
}

impl<B: RequestBody> Parsed<B> {
    /// The value, or the 422 to answer.
    ///
    /// # Errors
    /// [`ApiError::Validation`] with every field that did not fit.
    pub fn value(self) -> Result<B::Value, ApiError> {
        self.value.map_err(ApiError::Validation)
    }
}

impl<B> FromRequest for Parsed<B>
where
    B: RequestBody + 'static,
{
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Body::from_request(request, payload);
        Box::pin(async move {
            let body = body.await?;
            Ok(Self {
                value: B::parse(body.content_type(), body.bytes()),
                body: PhantomData,
            })
        })
    }
}
