//! API keys and receipt tokens: the bearer token of a request, random secrets and their
//! SHA-256 (only digests are stored), and the key checks as extractors.
//!
//! [`AdminKey`] and [`MatchKey`] refuse a request (401 without a known key, 403 without the
//! scope) before its handler runs. Extractors run in the order of the handler's arguments, and
//! a body is always extracted last; [`Keyed`] reads the body first and checks the key after,
//! the order in which the API has always answered a request with both a bad body and a bad key.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes as hex, from the operating system.
pub fn random_hex(n: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(ApiError::internal)?;
    Ok(to_hex(&buf))
}

/// Equality that takes the same time wherever the strings differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Checks the request's API key for `scope` (`admin` implies `match`).
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    scope: &'static str,
) -> Result<(), ApiError> {
    let key = bearer(headers).ok_or(ApiError::Unauthorized)?;
    let digest = sha256_hex(key.as_bytes());
    let scopes = state
        .db(move |s| s.api_key_scopes(&digest))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if scopes.iter().any(|s| s == scope || s == "admin") {
        Ok(())
    } else {
        Err(ApiError::Forbidden(scope))
    }
}

/// A key check that needs only the request's headers, so that [`Keyed`] can run it after the
/// body has been consumed.
pub trait KeyCheck: Sized {
    fn check(
        state: &AppState,
        headers: &HeaderMap,
    ) -> impl Future<Output = Result<Self, ApiError>> + Send;
}

/// The request carries an API key with the `admin` scope.
pub struct AdminKey;

impl KeyCheck for AdminKey {
    async fn check(state: &AppState, headers: &HeaderMap) -> Result<Self, ApiError> {
        authorize(state, headers, "admin").await.map(|()| AdminKey)
    }
}

/// The request may match: it carries a key with the `match` scope, or the server does not
/// require one (`--require-match-key` off).
pub struct MatchKey;

impl KeyCheck for MatchKey {
    async fn check(state: &AppState, headers: &HeaderMap) -> Result<Self, ApiError> {
        if state.limits.require_match_key {
            authorize(state, headers, "match").await?;
        }
        Ok(MatchKey)
    }
}

impl FromRequestParts<Arc<AppState>> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Self::check(state, &parts.headers).await
    }
}

impl FromRequestParts<Arc<AppState>> for MatchKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Self::check(state, &parts.headers).await
    }
}

/// A body `B`, then the key `K`: a request whose body is refused (400, 413) gets that answer
/// whatever its key.
pub struct Keyed<K, B>(pub K, pub B);

impl<K, B> FromRequest<Arc<AppState>> for Keyed<K, B>
where
    K: KeyCheck,
    B: FromRequest<Arc<AppState>, Rejection = ApiError> + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let body = B::from_request(req, state).await?;
        let key = K::check(state, &headers).await?;
        Ok(Keyed(key, body))
    }
}
