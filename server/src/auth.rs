//! API keys and receipt tokens: the bearer token of a request, random secrets and their
//! SHA-256 (only digests are stored), and the key checks as extractors.
//!
//! [`AdminKey`] and [`MatchCaller`] refuse a request (401 without a known key, 403 without the
//! scope) before its handler runs; [`MatchCaller`] also says whether the caller is anonymous,
//! which decides how much a match answer tells. [`Keyed`] checks the key from the headers before
//! it reads the body: a request without a valid key is answered 401 (or 403) and its body is
//! neither read nor parsed, so that nothing about the body's schema reaches a caller without a key.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{FromRequest, Request};
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

/// The scopes an API key may have: `admin` implies every other; `match` matches in detail;
/// `review` reviews tips; `exchange` fetches the exchange feed and gives feedback (a platform);
/// `metrics` reads /metrics when it requires a key.
pub const SCOPES: [&str; 5] = ["match", "admin", "review", "exchange", "metrics"];

/// Checks the request's API key for `scope` (`admin` implies every scope).
pub async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    scope: &'static str,
) -> Result<(), ApiError> {
    let key = bearer(headers).ok_or(ApiError::Unauthorized)?;
    authorize_key(state, key, scope).await
}

/// Checks that `key` is a stored API key with `scope` (or `admin`).
pub async fn authorize_key(
    state: &AppState,
    key: &str,
    scope: &'static str,
) -> Result<(), ApiError> {
    let digest = sha256_hex(key.as_bytes());
    let now = crate::time::now_unix();
    let scopes = state
        .db(move |s| s.api_key_scopes(&digest, now))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if scopes.iter().any(|s| s == scope || s == "admin") {
        Ok(())
    } else {
        Err(ApiError::Forbidden(scope))
    }
}

/// A key check that needs only the request's headers, so that [`Keyed`] can run it before the
/// body is read.
pub trait KeyCheck: Sized {
    fn check(
        state: &AppState,
        headers: &HeaderMap,
    ) -> impl Future<Output = Result<Self, ApiError>> + Send;
}

/// Makes a [`KeyCheck`] type an extractor of its own (for handlers without a body).
macro_rules! key_check_extractor {
    ($t:ty) => {
        impl axum::extract::FromRequestParts<std::sync::Arc<$crate::state::AppState>> for $t {
            type Rejection = $crate::error::ApiError;

            async fn from_request_parts(
                parts: &mut axum::http::request::Parts,
                state: &std::sync::Arc<$crate::state::AppState>,
            ) -> Result<Self, Self::Rejection> {
                <Self as $crate::auth::KeyCheck>::check(state, &parts.headers).await
            }
        }
    };
}
pub(crate) use key_check_extractor;

/// The request carries an API key with the `admin` scope.
pub struct AdminKey;

impl KeyCheck for AdminKey {
    async fn check(state: &AppState, headers: &HeaderMap) -> Result<Self, ApiError> {
        authorize(state, headers, "admin").await.map(|()| AdminKey)
    }
}

/// The request carries an API key with the `review` scope (or `admin`): a tip reviewer.
pub struct ReviewKey;

impl KeyCheck for ReviewKey {
    async fn check(state: &AppState, headers: &HeaderMap) -> Result<Self, ApiError> {
        authorize(state, headers, "review")
            .await
            .map(|()| ReviewKey)
    }
}

key_check_extractor!(ReviewKey);

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

key_check_extractor!(AdminKey);

/// The key `K`, then the body `B`: a request without a valid key gets 401 (403) whatever its
/// body, which is then never read.
pub struct Keyed<K, B>(pub K, pub B);

impl<K, B> FromRequest<Arc<AppState>> for Keyed<K, B>
where
    K: KeyCheck + Send,
    B: FromRequest<Arc<AppState>, Rejection = ApiError> + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let key = K::check(state, &headers).await?;
        let body = B::from_request(req, state).await?;
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
        let storage = Sqlite::open(&dir.join("auth.db"), 1).unwrap();
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
        let mut r = axum::http::Request::builder()
            .method("POST")
            .uri("/")
            .header("content-type", "application/json");
        if let Some(k) = key {
            r = r.header("authorization", format!("Bearer {k}"));
        }
        r.body(axum::body::Body::from(body.to_string())).unwrap()
    }

    /// A request without a valid key is a 401 whatever its body; with one, a malformed body is
    /// a 400.
    #[tokio::test]
    async fn keys_are_checked_before_bodies() {
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
            Err(401)
        );
        assert_eq!(
            status(Admin::from_request(request("{}", None), &state).await),
            Err(401)
        );
        assert_eq!(
            status(Match::from_request(request("{bad", Some("nope")), &state).await),
            Err(401)
        );
        assert_eq!(
            status(Match::from_request(request("{}", Some("nope")), &state).await),
            Err(401)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
