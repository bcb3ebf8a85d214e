//! Banks of hashes, for administrators: create and list banks, add, import, delete and export
//! their entries. Every change goes through the storage's change log, and the catalog catches
//! up before the answer, so a hash added here is matchable when the request returns.

use axum::extract::{Path, Query as UrlQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::Json;
use pixelprint::{Algorithm, AlgorithmMap};
use serde::{Deserialize, Serialize};

use super::json::{read_body, JsonBody};
use super::{AppResult, Routes, St};
use crate::auth::{AdminKey, Keyed};
use crate::error::{ApiError, ErrorDetail};
use crate::import::{parse_import, ImportFormat};
use crate::model::{bank_algorithm, bank_algorithm_names, canonical_hash, BankMode, NewEntry};
use crate::state::AppState;
use crate::thresholds::{algorithm_use, cap, threshold_algorithms, AlgorithmUse};

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/banks", post(create_bank).get(list_banks))
        .route("/v1/banks/{name}", patch(set_bank))
        .route("/v1/banks/{name}/entries", post(add_entries))
        .route(
            "/v1/banks/{name}/entries/{id}",
            delete(delete_entry).patch(set_entry),
        )
        .route("/v1/banks/{name}/disabled", get(disabled_entries))
        .route("/v1/banks/{name}/export", get(export_bank))
}

/// The import route, apart: it has its own body limit (`--import-limit`).
pub fn import_routes() -> Routes {
    Routes::new().route("/v1/banks/{name}/import", post(import_entries))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankRequest {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Serialize)]
struct BankCreated {
    name: String,
}

/// A bank as `GET /v1/banks` lists it (fields in alphabetical order).
#[derive(Serialize)]
struct BankView {
    /// Per algorithm matched by distance: its threshold and what that rests on.
    algorithms: AlgorithmMap<AlgorithmUse>,
    description: Option<String>,
    entries: u64,
    /// `active`, `shadow` or `disabled` (docs/bank-controls.md).
    mode: &'static str,
    name: String,
    /// A bank of known false positives.
    negative: bool,
}

#[derive(Serialize)]
struct BankList {
    banks: Vec<BankView>,
    /// Where the false-positive rates come from.
    fp_rate_source: &'static str,
    false_hit_budget: f64,
}

/// `PATCH /v1/banks/{name}`: per algorithm key, a threshold or whether the bank matches by it;
/// `null` returns to the registry's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankSettingsRequest {
    #[serde(default)]
    thresholds: std::collections::BTreeMap<String, Option<u32>>,
    #[serde(default)]
    matching: std::collections::BTreeMap<String, Option<bool>>,
    /// `active`, `shadow` or `disabled`.
    #[serde(default)]
    mode: Option<BankMode>,
    /// Whether the bank holds known false positives.
    #[serde(default)]
    negative: Option<bool>,
}

#[derive(Serialize)]
struct EntryIds {
    /// As strings: clients in languages without 64-bit integers read them exactly.
    ids: Vec<String>,
}

/// A line of an import that was not imported.
#[derive(Serialize)]
struct LineError<'a> {
    line: usize,
    message: &'a str,
}

#[derive(Serialize)]
struct ImportReport<'a> {
    errors: Vec<LineError<'a>>,
    imported: usize,
}

/// An atomic import refused for its broken lines: the report with an `error` beside it.
#[derive(Serialize)]
struct ImportRejected<'a> {
    error: ErrorDetail,
    errors: Vec<LineError<'a>>,
    imported: usize,
}

fn check_bank_name(name: &str) -> AppResult<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_at(
            "invalid_bank_name",
            "a bank name has 1 to 64 characters of a-z, 0-9, _ and -",
            None,
            "name",
        ))
    }
}

async fn create_bank(
    State(state): St,
    Keyed(AdminKey, JsonBody(req)): Keyed<AdminKey, JsonBody<BankRequest>>,
) -> AppResult<(StatusCode, Json<BankCreated>)> {
    check_bank_name(&req.name)?;
    let name = req.name.clone();
    state
        .db(move |s| s.create_bank(&req.name, req.description.as_deref()))
        .await?;
    Ok((StatusCode::CREATED, Json(BankCreated { name })))
}

async fn list_banks(State(state): St, _: AdminKey) -> AppResult<Json<BankList>> {
    let banks = state.db(|s| s.list_banks()).await?;
    let catalog = state.catalog.read().unwrap_or_else(|e| e.into_inner());
    let banks = banks
        .into_iter()
        .map(|b| BankView {
            algorithms: threshold_algorithms()
                .map(|a| {
                    let n = catalog.bank_count(&b.name, a);
                    (a, algorithm_use(&state.limits, &b.settings, a, n))
                })
                .collect(),
            description: b.description,
            entries: b.entries,
            mode: b.settings.mode.name(),
            name: b.name,
            negative: b.settings.negative,
        })
        .collect();
    Ok(Json(BankList {
        banks,
        fp_rate_source: pixelprint::algorithm::FP_RATE_SOURCE,
        false_hit_budget: state.limits.false_hit_budget,
    }))
}

/// The threshold algorithm of a settings key, or a 400 naming the field.
fn settings_algorithm(field: &str, key: &str) -> AppResult<Algorithm> {
    threshold_algorithms()
        .find(|a| a.key() == key)
        .ok_or_else(|| {
            let names: Vec<_> = threshold_algorithms().map(Algorithm::key).collect();
            ApiError::bad_at(
                "invalid_algorithm",
                format!("{field} keys are {}; found {key:?}", names.join(", ")),
                None,
                field,
            )
        })
}

async fn set_bank(
    State(state): St,
    Path(bank): Path<String>,
    Keyed(AdminKey, JsonBody(req)): Keyed<AdminKey, JsonBody<BankSettingsRequest>>,
) -> AppResult<StatusCode> {
    require_bank(&state, &bank).await?;
    let mut settings = state
        .bank_settings
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&bank)
        .cloned()
        .unwrap_or_default();
    for (key, value) in req.thresholds {
        let a = settings_algorithm("thresholds", &key)?;
        match value {
            None => {
                settings.thresholds.remove(a.key());
            }
            Some(t) if t > cap(&state.limits, a) => {
                return Err(ApiError::bad_at(
                    "threshold_above_cap",
                    format!(
                        "the server allows {key} thresholds up to {}; found {t}",
                        cap(&state.limits, a)
                    ),
                    None,
                    "thresholds",
                ));
            }
            Some(t) => {
                settings.thresholds.insert(a.key().to_string(), t);
            }
        }
    }
    for (key, value) in req.matching {
        let a = settings_algorithm("matching", &key)?;
        match value {
            None => settings.matching.remove(a.key()),
            Some(on) => settings.matching.insert(a.key().to_string(), on),
        };
    }
    if let Some(mode) = req.mode {
        settings.mode = mode;
    }
    if let Some(negative) = req.negative {
        settings.negative = negative;
    }
    if settings.negative && settings.mode == BankMode::Shadow {
        return Err(ApiError::bad_at(
            "invalid_controls",
            "a negative bank is active or disabled, not in shadow mode: its hits would \
             suppress nothing",
            None,
            if req.mode.is_some() {
                "mode"
            } else {
                "negative"
            },
        ));
    }
    let stored = settings.to_stored();
    let b = bank.clone();
    if !state
        .db(move |s| s.set_bank_settings(&b, stored.as_deref()))
        .await?
    {
        return Err(ApiError::NotFound(format!("no bank named {bank:?}")));
    }
    state.refresh_bank_settings().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn require_bank(state: &AppState, name: &str) -> AppResult<()> {
    let n = name.to_string();
    if state.db(move |s| s.bank_exists(&n)).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no bank named {name:?}")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryRequest {
    algorithm: String,
    hash: String,
    #[serde(default)]
    metadata: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesRequest {
    entries: Vec<EntryRequest>,
}

const MAX_ENTRIES_PER_REQUEST: usize = 10_000;

async fn add_entries(
    State(state): St,
    Path(bank): Path<String>,
    Keyed(AdminKey, JsonBody(req)): Keyed<AdminKey, JsonBody<EntriesRequest>>,
) -> AppResult<(StatusCode, Json<EntryIds>)> {
    require_bank(&state, &bank).await?;
    if req.entries.is_empty() || req.entries.len() > MAX_ENTRIES_PER_REQUEST {
        return Err(ApiError::bad_at(
            "item_count",
            format!(
                "entries has 1..={MAX_ENTRIES_PER_REQUEST} entries, found {}",
                req.entries.len()
            ),
            None,
            "entries",
        ));
    }
    let mut entries = Vec::with_capacity(req.entries.len());
    for (i, e) in req.entries.into_iter().enumerate() {
        let algorithm = bank_algorithm(&e.algorithm.to_ascii_lowercase()).ok_or_else(|| {
            ApiError::bad_at(
                "invalid_algorithm",
                format!(
                    "algorithm is one of {}; found {:?}",
                    bank_algorithm_names(),
                    e.algorithm
                ),
                Some(i),
                "algorithm",
            )
        })?;
        let hash = canonical_hash(algorithm, &e.hash)
            .map_err(|m| ApiError::bad_at("invalid_hash", m, Some(i), "hash"))?;
        entries.push(NewEntry {
            algorithm,
            hash,
            metadata: e.metadata,
        });
    }
    let ids = state.db(move |s| s.add_entries(&bank, &entries)).await?;
    state.catch_up().await?;
    let ids = ids.iter().map(i64::to_string).collect();
    Ok((StatusCode::CREATED, Json(EntryIds { ids })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportParams {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    atomic: Option<bool>,
    /// The algorithm of plain hex lines (default pdq).
    #[serde(default)]
    algorithm: Option<String>,
    /// Metadata of the entry a `format=vpdq` import makes.
    #[serde(default)]
    metadata: Option<String>,
}

async fn import_entries(
    State(state): St,
    Path(bank): Path<String>,
    // Taken as a `Result`: the key is checked before the parameters.
    params: Result<UrlQuery<ImportParams>, axum::extract::rejection::QueryRejection>,
    _: AdminKey,
    req: Request,
) -> AppResult<Response> {
    let UrlQuery(params) = params.map_err(|e| ApiError::bad("invalid_query", e.body_text()))?;
    require_bank(&state, &bank).await?;
    let format = match params.format.as_deref() {
        None => ImportFormat::Auto,
        Some(f) => ImportFormat::from_name(f).ok_or_else(|| {
            ApiError::bad_at(
                "invalid_format",
                format!(
                    "format is one of auto, plain, csv, threatexchange, hma, stopncii, vpdq; found {f:?}"
                ),
                None,
                "format",
            )
        })?,
    };
    let default = match params.algorithm.as_deref() {
        None => Algorithm::Pdq,
        Some(a) => bank_algorithm(a).ok_or_else(|| {
            ApiError::bad_at(
                "invalid_algorithm",
                format!("unknown algorithm {a:?}"),
                None,
                "algorithm",
            )
        })?,
    };
    let atomic = params.atomic.unwrap_or(true);
    let body = read_body(req, &()).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::bad("invalid_utf8", format!("the list is not UTF-8: {e}")))?;
    let mut parsed = parse_import(text, format, default);
    if format == ImportFormat::Vpdq {
        for e in &mut parsed.entries {
            e.metadata.clone_from(&params.metadata);
        }
    }
    let errors: Vec<_> = parsed
        .errors
        .iter()
        .map(|e| LineError {
            line: e.line,
            message: &e.message,
        })
        .collect();
    if atomic && !errors.is_empty() {
        let n = errors.len();
        let rejected = ImportRejected {
            error: ErrorDetail::new(
                "import_rejected",
                format!("{n} line(s) have errors; nothing was imported (atomic)"),
            ),
            errors,
            imported: 0,
        };
        return Ok((StatusCode::BAD_REQUEST, Json(rejected)).into_response());
    }
    let entries = parsed.entries;
    let ids = if entries.is_empty() {
        Vec::new()
    } else {
        let ids = state.db(move |s| s.add_entries(&bank, &entries)).await?;
        state.catch_up().await?;
        ids
    };
    tracing::info!(imported = ids.len(), rejected = errors.len(), "import");
    Ok(Json(ImportReport {
        errors,
        imported: ids.len(),
    })
    .into_response())
}

async fn delete_entry(
    State(state): St,
    Path((bank, id)): Path<(String, String)>,
    _: AdminKey,
) -> AppResult<StatusCode> {
    let not_found = || ApiError::NotFound(format!("no entry {id:?} in bank {bank:?}"));
    let Ok(n) = id.parse::<i64>() else {
        return Err(not_found());
    };
    let b = bank.clone();
    if state.db(move |s| s.delete_entry(&b, n)).await? {
        state.catch_up().await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

/// `PATCH /v1/banks/{name}/entries/{id}`: `{"enabled": false}` soft-disables an entry (it
/// stays stored and exported, matches nothing); `true` enables it again.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryControl {
    enabled: bool,
}

#[derive(Serialize)]
struct EntryState {
    /// Whether this request changed it.
    changed: bool,
    enabled: bool,
    id: String,
}

async fn set_entry(
    State(state): St,
    Path((bank, id)): Path<(String, String)>,
    Keyed(AdminKey, JsonBody(req)): Keyed<AdminKey, JsonBody<EntryControl>>,
) -> AppResult<Json<EntryState>> {
    let not_found = || ApiError::NotFound(format!("no entry {id:?} in bank {bank:?}"));
    let Ok(n) = id.parse::<i64>() else {
        return Err(not_found());
    };
    let b = bank.clone();
    let enabled = req.enabled;
    let now = crate::time::now_unix();
    let changed = state
        .db(move |s| s.set_entry_enabled(&b, n, enabled, now))
        .await?
        .ok_or_else(not_found)?;
    state.catch_up().await?;
    Ok(Json(EntryState {
        changed,
        enabled,
        id: n.to_string(),
    }))
}

async fn disabled_entries(
    State(state): St,
    Path(bank): Path<String>,
    _: AdminKey,
) -> AppResult<Json<EntryIds>> {
    require_bank(&state, &bank).await?;
    let ids = state.db(move |s| s.disabled_entries(&bank)).await?;
    Ok(Json(EntryIds {
        ids: ids.iter().map(i64::to_string).collect(),
    }))
}

async fn export_bank(
    State(state): St,
    Path(bank): Path<String>,
    _: AdminKey,
) -> AppResult<Response> {
    require_bank(&state, &bank).await?;
    let entries = state.db(move |s| s.export_entries(&bank)).await?;
    let mut text = String::new();
    for e in entries {
        text.push_str(e.algorithm.name());
        text.push(',');
        // A vPDQ hash is several lines of the reference format: one line here, frames
        // separated by `;`.
        text.push_str(&e.hash.trim_end().replace('\n', ";"));
        if let Some(m) = e.metadata {
            text.push(',');
            text.push_str(&m.replace(['\n', '\r'], " "));
        }
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
