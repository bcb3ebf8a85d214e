//! API keys, for administrators: `POST /v1/keys` makes one (shown once; only its SHA-256 is
//! stored), `GET /v1/keys` lists them by id (the first 16 hex digits of the digest, never the
//! key nor the whole digest), `DELETE /v1/keys/{id}` revokes one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::json::{check_storable_opt, JsonBody};
use super::{AppResult, Routes, St};
use crate::auth::{random_hex, sha256_hex, AdminKey, Keyed, SCOPES};
use crate::error::ApiError;
use crate::model::{ApiKeyRecord, API_KEY_ID_LEN};
use crate::time::{now_unix, rfc3339};

/// The longest lifetime a key may be given, in days (ten years).
const MAX_EXPIRES_IN_DAYS: u32 = 3650;

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/keys", post(create_key).get(list_keys))
        .route("/v1/keys/{id}", delete(revoke_key))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRequest {
    scopes: Vec<String>,
    #[serde(default)]
    label: Option<String>,
    /// Days until the key is no longer accepted (none: it does not expire).
    #[serde(default)]
    expires_in_days: Option<u32>,
}

#[derive(Serialize)]
struct KeyResponse {
    expires_at: Option<String>,
    id: String,
    key: String,
    scopes: Vec<String>,
}

/// A key as administrators see it: never the key or its whole digest.
#[derive(Serialize)]
struct KeyView {
    created_at: String,
    expires_at: Option<String>,
    id: String,
    label: Option<String>,
    revoked_at: Option<String>,
    scopes: Vec<String>,
}

#[derive(Serialize)]
struct KeyList {
    keys: Vec<KeyView>,
}

async fn create_key(
    State(state): St,
    Keyed(AdminKey, JsonBody(req)): Keyed<AdminKey, JsonBody<KeyRequest>>,
) -> AppResult<(StatusCode, Json<KeyResponse>)> {
    if req.scopes.is_empty() || req.scopes.iter().any(|s| !SCOPES.contains(&s.as_str())) {
        return Err(ApiError::bad_at(
            "invalid_scopes",
            "scopes is a non-empty list of \"match\", \"admin\", \"review\", \"exchange\" and \"metrics\"",
            None,
            "scopes",
        ));
    }
    check_storable_opt(req.label.as_deref(), None, "label")?;
    let now = now_unix();
    let expires_at = match req.expires_in_days {
        None => None,
        Some(d @ 1..=MAX_EXPIRES_IN_DAYS) => Some(now + i64::from(d) * 86_400),
        Some(d) => {
            return Err(ApiError::bad_at(
                "invalid_expiry",
                format!("expires_in_days is 1 to {MAX_EXPIRES_IN_DAYS}, found {d}"),
                None,
                "expires_in_days",
            ))
        }
    };
    let key = format!("ppk_{}", random_hex(32)?);
    let record = ApiKeyRecord {
        key_sha256: sha256_hex(key.as_bytes()),
        scopes: req.scopes,
        label: req.label,
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    let id = record.id().to_string();
    let scopes = record.scopes.clone();
    state.db(move |s| s.put_api_key(&record)).await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyResponse {
            expires_at: expires_at.map(rfc3339),
            id,
            key,
            scopes,
        }),
    ))
}

async fn list_keys(State(state): St, _: AdminKey) -> AppResult<Json<KeyList>> {
    let keys = state.db(|s| s.list_api_keys()).await?;
    let keys = keys
        .into_iter()
        .map(|k| KeyView {
            created_at: rfc3339(k.created_at),
            expires_at: k.expires_at.map(rfc3339),
            id: k.id().to_string(),
            label: k.label,
            revoked_at: k.revoked_at.map(rfc3339),
            scopes: k.scopes,
        })
        .collect();
    Ok(Json(KeyList { keys }))
}

async fn revoke_key(
    State(state): St,
    Path(id): Path<String>,
    _: AdminKey,
) -> AppResult<StatusCode> {
    let not_found = || ApiError::NotFound(format!("no key {id:?} that is not revoked"));
    let plain = id.len() == API_KEY_ID_LEN && id.bytes().all(|b| b.is_ascii_hexdigit());
    if !plain {
        return Err(not_found());
    }
    let lower = id.to_ascii_lowercase();
    let now = now_unix();
    if state.db(move |s| s.revoke_api_key(&lower, now)).await? {
        tracing::info!(key = %id, "api key revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
