//! Request bodies: the route's size limit (413), the time the whole body has to arrive (408),
//! the media type of JSON bodies (415), and JSON whose errors (400) name the place, e.g.
//! `items[3].pdq`, as an item index and a field.

use std::time::Duration;

use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body: `Content-Type: application/json` (else 415: a cross-site form cannot send it
/// without a CORS preflight), size limit → 413, malformed or unknown fields, or anything but
/// whitespace after the value → 400 naming the place.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        check_json_type(req.headers())?;
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// `application/json`, with at most a `charset=utf-8` parameter (JSON is UTF-8: RFC 8259 §8.1).
fn check_json_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let found = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let json = found.as_deref().is_some_and(|value| {
        let mut parts = value.split(';').map(str::trim);
        let essence = parts.next().unwrap_or("");
        essence.eq_ignore_ascii_case("application/json")
            && parts.all(|p| {
                p.split_once('=').is_some_and(|(name, v)| {
                    name.trim().eq_ignore_ascii_case("charset")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
                })
            })
    });
    if json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(found))
    }
}

/// The body as bytes, with the route's size limit and the server's body timeout.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<bytes::Bytes, ApiError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map(|l| l.0)
        .unwrap_or(usize::MAX);
    let timeout = req.extensions().get::<BodyTimeout>().map(|t| t.0);
    let read = bytes::Bytes::from_request(req, state);
    let read = match timeout {
        Some(t) => tokio::time::timeout(t, read)
            .await
            .map_err(|_| ApiError::BodyTimeout(t.as_secs()))?,
        None => read.await,
    };
    match read {
        Ok(b) => Ok(b),
        Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::TooLarge(limit))
        }
        Err(e) => Err(ApiError::bad("bad_body", e.body_text())),
    }
}

/// The body limit in force for a route, for error messages.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The time a request's whole body has to arrive once reading starts (`--body-timeout-secs`).
#[derive(Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// One JSON value, nothing but whitespace after it.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let (item, field) = locate(&path);
        let code = if inner.is_syntax() || inner.is_eof() {
            "malformed_json"
        } else {
            "invalid_request"
        };
        ApiError::BadRequest {
            code,
            message: if path.is_empty() || path == "." {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            },
            item,
            field,
        }
    })?;
    de.end().map_err(|e| {
        ApiError::bad(
            "malformed_json",
            format!("only whitespace may follow the JSON value: {e}"),
        )
    })?;
    Ok(value)
}

/// Refuses text that a database cannot store: PostgreSQL's `text` holds no U+0000 (SQLite
/// would, so both backends refuse it alike). `item` and `field` name the place.
pub fn check_storable(value: &str, item: Option<usize>, field: &str) -> Result<(), ApiError> {
    if value.contains('\0') {
        return Err(ApiError::bad_at(
            "invalid_text",
            format!("{field} contains U+0000, which cannot be stored"),
            item,
            field,
        ));
    }
    Ok(())
}

/// [`check_storable`] for an optional value.
pub fn check_storable_opt(
    value: Option<&str>,
    item: Option<usize>,
    field: &str,
) -> Result<(), ApiError> {
    value.map_or(Ok(()), |v| check_storable(v, item, field))
}

/// Item index and field from a path like `items[3].pdq`.
fn locate(path: &str) -> (Option<usize>, Option<String>) {
    let item = path
        .strip_prefix("items[")
        .or_else(|| path.strip_prefix("entries["))
        .and_then(|rest| rest.split(']').next())
        .and_then(|n| n.parse().ok());
    let field = path
        .rsplit('.')
        .next()
        .filter(|f| !f.is_empty() && *f != "?")
        .map(|f| f.split('[').next().unwrap_or(f).to_string());
    (item, field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_locate_item_and_field() {
        assert_eq!(locate("items[3].pdq"), (Some(3), Some("pdq".into())));
        assert_eq!(
            locate("items[0].pdq_dihedral[2]"),
            (Some(0), Some("pdq_dihedral".into()))
        );
    }
}
