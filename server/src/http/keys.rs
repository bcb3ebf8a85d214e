//! `POST /v1/keys`: administrators make API keys. The key is shown once; only its SHA-256 is
//! stored.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::json::{check_storable_opt, JsonBody};
use super::{AppResult, Routes, St};
use crate::auth::{random_hex, sha256_hex, AdminKey, Keyed};
use crate::error::ApiError;
use crate::time::now_unix;

pub fn routes() -> Routes {
    Routes::new().route("/v1/keys", post(create_key))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRequest {
    scopes: Vec<String>,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Serialize)]
struct KeyResponse {
    key: String,
    scopes: Vec<String>,
}

async fn create_key(
    State(state): St,
    Keyed(AdminKey, JsonBody(req)): Keyed<AdminKey, JsonBody<KeyRequest>>,
) -> AppResult<(StatusCode, Json<KeyResponse>)> {
    if req.scopes.is_empty() || req.scopes.iter().any(|s| s != "match" && s != "admin") {
        return Err(ApiError::bad_at(
            "invalid_scopes",
            "scopes is a non-empty list of \"match\" and \"admin\"",
            None,
            "scopes",
        ));
    }
    check_storable_opt(req.label.as_deref(), None, "label")?;
    let key = format!("ppk_{}", random_hex(32)?);
    let digest = sha256_hex(key.as_bytes());
    let scopes = req.scopes.clone();
    let now = now_unix();
    state
        .db(move |s| s.put_api_key(&digest, &req.scopes, req.label.as_deref(), now))
        .await?;
    Ok((StatusCode::CREATED, Json(KeyResponse { key, scopes })))
}
