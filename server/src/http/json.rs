//! Request bodies: the route's size limit (413) and JSON whose errors (400) name the place,
//! e.g. `items[3].pdq`, as an item index and a field.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body: size limit → 413, malformed or unknown fields → 400 naming the place.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The body as bytes, with the route's size limit.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<bytes::Bytes, ApiError> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map(|l| l.0)
        .unwrap_or(usize::MAX);
    match bytes::Bytes::from_request(req, state).await {
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

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
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
    })
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
