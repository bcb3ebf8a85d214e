//! The server's one error type and its one mapping to HTTP statuses.
//!
//! 4xx answers say what was wrong with the request (and, for hash items, which item and field);
//! 5xx answers say nothing internal: the cause is logged and the client gets a fixed message.
//! The body is `{"error": {"code", "field", "item", "message"}}`, `field` and `item` only when
//! known, keys in alphabetical order as the API has always sent them.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or invalid; `item` and `field` locate the problem.
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        item: Option<usize>,
        field: Option<String>,
    },
    #[error("a valid api key is required")]
    Unauthorized,
    #[error("the api key lacks the {0} scope")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    /// The body did not arrive within the body timeout (seconds).
    #[error("the request body did not arrive within {0} s")]
    BodyTimeout(u64),
    /// A JSON route got another media type (the `Content-Type` found, if any).
    #[error("{}", media_type_message(.0.as_deref()))]
    UnsupportedMediaType(Option<String>),
    #[error("too many requests, retry after {0} s")]
    RateLimited(u64),
    #[error("the index is still loading")]
    NotReady,
    /// An item would take more work than the server spends on one (422, `too_costly`).
    #[error("{message}")]
    TooCostly { item: usize, message: String },
    /// The database stayed locked by another process longer than the server waits (503,
    /// `busy`, with `Retry-After`).
    #[error("the database is busy; retry later")]
    StorageBusy,
    /// A request ran out of its time budget (503, `busy`, with `Retry-After`).
    #[error("the server spent its time budget on this request ({0} ms); retry later or send fewer frames")]
    Busy(u64),
    /// Every vPDQ search slot stayed taken for the queue wait (503, `busy`, with `Retry-After`).
    #[error("other video searches kept the server busy for {0} ms; retry later")]
    VideoQueueFull(u64),
    /// The cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            item: None,
            field: None,
        }
    }

    pub fn bad_at(
        code: &'static str,
        message: impl Into<String>,
        item: Option<usize>,
        field: &str,
    ) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            item,
            field: Some(field.to_string()),
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotReady
            | ApiError::Busy(_)
            | ApiError::VideoQueueFull(_)
            | ApiError::StorageBusy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooCostly { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "body_too_large",
            ApiError::BodyTimeout(_) => "body_timeout",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::NotReady => "not_ready",
            ApiError::TooCostly { .. } => "too_costly",
            ApiError::Busy(_) | ApiError::VideoQueueFull(_) | ApiError::StorageBusy => "busy",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// The `error` object of a refusal: what went wrong and, for a bad request, where.
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<usize>,
    message: String,
}

impl ErrorDetail {
    pub fn new(code: &'static str, message: String) -> Self {
        ErrorDetail {
            code,
            field: None,
            item: None,
            message,
        }
    }
}

/// The body of every error answer.
#[derive(Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let mut error = ErrorDetail::new(self.code(), self.to_string());
        match &self {
            ApiError::BadRequest { item, field, .. } => {
                error.item = *item;
                error.field.clone_from(field);
            }
            ApiError::TooCostly { item, .. } => error.item = Some(*item),
            _ => {}
        }
        let mut response = (self.status(), axum::Json(ErrorBody { error })).into_response();
        let retry_after = match self {
            ApiError::RateLimited(secs) => Some(secs.max(1)),
            ApiError::Busy(_) | ApiError::VideoQueueFull(_) | ApiError::StorageBusy => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let ApiError::BodyTimeout(_) = self {
            // The rest of the body is not read: the connection cannot carry another request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

fn media_type_message(found: Option<&str>) -> String {
    let found = match found {
        Some(t) => format!("{t:?}"),
        None => "none".to_string(),
    };
    format!("the body must be sent as Content-Type: application/json, found {found}")
}

/// Storage failures are internal: the client learns nothing of them.
impl From<crate::storage::StorageError> for ApiError {
    fn from(e: crate::storage::StorageError) -> Self {
        match e {
            crate::storage::StorageError::Conflict(m) => ApiError::Conflict(m),
            crate::storage::StorageError::Busy(m) => {
                tracing::warn!(cause = %m, "database busy");
                ApiError::StorageBusy
            }
            crate::storage::StorageError::Backend(m) => ApiError::Internal(m),
        }
    }
}
