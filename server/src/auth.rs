//! API keys and receipt tokens: the bearer token of a request, random secrets and their
//! SHA-256 (only digests are stored), and the key checks as extractors.
//!
//! [`AdminKey`] and [`MatchCaller`] refuse a request (401 without a known key, 403 without the
//! scope) before its handler runs; [`MatchCaller`] also says whether the caller is anonymous,
//! which decides how much a match answer tells. Extractors run in the order of the handler's arguments, and
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

/// Who may match: a caller with a key of the `match` scope (answered in detail), or, unless the
/// server requires a key (`--require-match-key`), an anonymous one (answered with verdicts only).
/// A request that carries a key is never anonymous: an unknown key is refused, not ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchCaller {
    Keyed,
    Anonymous,
}

impl KeyCheck for MatchCaller {
    async fn check(state: &AppState, headers: &HeaderMap) -> Result<Self, ApiError> {
        if bearer(headers).is_none() && !state.limits.require_match_key {
            return Ok(MatchCaller::Anonymous);
        }
        authorize(state, headers, "match").await?;
        Ok(MatchCaller::Keyed)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::json::JsonBody;
    use crate::nearmiss::NearMissWatch;
    use crate::ratelimit::{ItemQuota, RateLimiter};
    use crate::state::{Guards, Limits};
    use crate::storage::Sqlite;

    fn state(dir: &std::path::Path) -> Arc<AppState> {
        let storage = Sqlite::open(&dir.join("auth.db")).unwrap();
        let limits = Limits {
            require_match_key: true,
            ..Limits::for_tests()
        };
        let off = || RateLimiter::new(0.0, 1.0);
        let guards = Guards {
            ip: off(),
            key: off(),
            key_items: off(),
            items: ItemQuota {
                client: off(),
                client_daily: off(),
                origin: off(),
                origin_daily: off(),
            },
            tips: [off(), off()],
            near_miss: NearMissWatch::new(std::time::Duration::from_secs(1), 0),
        };
        AppState::new(Arc::new(storage), limits, guards)
    }

    fn request(body: &str, key: Option<&str>) -> Request {
        let mut r = axum::http::Request::builder().method("POST").uri("/");
        if let Some(k) = key {
            r = r.header("authorization", format!("Bearer {k}"));
        }
        r.body(axum::body::Body::from(body.to_string())).unwrap()
    }

    /// A malformed body is a 400 whatever the key; a good body without a key is a 401.
    #[tokio::test]
    async fn keyed_bodies_are_checked_before_their_keys() {
        let dir = std::env::temp_dir().join(format!("pixelprint-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let state = state(&dir);
        type Admin = Keyed<AdminKey, JsonBody<serde_json::Value>>;
        type Match = Keyed<MatchCaller, JsonBody<serde_json::Value>>;
        fn status<T>(r: Result<T, ApiError>) -> Result<(), u16> {
            r.map(|_| ()).map_err(|e| e.status().as_u16())
        }
        assert_eq!(
            status(Admin::from_request(request("{bad", None), &state).await),
            Err(400)
        );
        assert_eq!(
            status(Admin::from_request(request("{}", None), &state).await),
            Err(401)
        );
        assert_eq!(
            status(Match::from_request(request("{bad", Some("nope")), &state).await),
            Err(400)
        );
        assert_eq!(
            status(Match::from_request(request("{}", Some("nope")), &state).await),
            Err(401)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
