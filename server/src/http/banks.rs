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

use super::json::{check_storable_opt, read_body, JsonBody};
use super::{AppResult, Routes, St};
use crate::auth::{AdminKey, Keyed, ReviewKey};
use crate::error::{ApiError, ErrorDetail};
use crate::import::{parse_import, ImportFormat};
use crate::model::FeedbackRecord;
use crate::model::{
    bank_algorithm, bank_algorithm_names, canonical_hash, BankMode, NewEntry, SourceRow,
};
use crate::sources::feedback::{self, FeedbackItem, Verdict};
use crate::sources::{ExchangeKind, SourceConfig};
use crate::state::AppState;
use crate::thresholds::{algorithm_use, cap, threshold_algorithms, AlgorithmUse};
use crate::time::rfc3339;

pub fn routes() -> Routes {
    Routes::new()
        .route("/v1/banks", post(create_bank).get(list_banks))
        .route("/v1/banks/{name}", patch(set_bank))
        .route("/v1/banks/{name}/entries", post(add_entries))
        .route(
            "/v1/banks/{name}/entries/{id}",
            delete(delete_entry).patch(set_entry),
        )
        .route(
            "/v1/banks/{name}/entries/{id}/feedback",
            post(entry_feedback),
        )
        .route("/v1/banks/{name}/feedback", get(list_feedback))
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
    /// The exchange the bank is filled from, and where its synchronisation stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<SourceView>,
}

/// A bank's source: its configuration (which names where the credential is, never the
/// credential) and its state. Times are RFC 3339 (UTC).
#[derive(Serialize)]
struct SourceView {
    added: i64,
    checkpoint: Option<serde_json::Value>,
    config: serde_json::Value,
    failures: i64,
    last_error: Option<String>,
    last_error_at: Option<String>,
    last_success: Option<String>,
    next_attempt: String,
    removed: i64,
    skipped: i64,
}

impl From<SourceRow> for SourceView {
    fn from(s: SourceRow) -> Self {
        let parse = |t: &str| {
            serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::String(t.to_string()))
        };
        SourceView {
            added: s.added,
            checkpoint: s.checkpoint.as_deref().map(parse),
            config: parse(&s.config),
            failures: s.failures,
            last_error: s.last_error,
            last_error_at: s.last_error_at.map(rfc3339),
            last_success: s.last_success.map(rfc3339),
            next_attempt: rfc3339(s.next_attempt),
            removed: s.removed,
            skipped: s.skipped,
        }
    }
}

#[derive(Serialize)]
struct BankList {
    banks: Vec<BankView>,
    /// Where the false-positive rates come from.
    fp_rate_source: &'static str,
    false_hit_budget: f64,
}

/// `PATCH /v1/banks/{name}`: per algorithm key, a threshold or whether the bank matches by it;
/// `null` returns to the registry's. `source`: the exchange that fills the bank (`null`: none).
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
    /// Absent: unchanged; `null`: removed.
    #[serde(default, deserialize_with = "present")]
    source: Option<Option<serde_json::Value>>,
}

/// A field that is present, `null` or not.
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<serde_json::Value>>, D::Error> {
    Option::<serde_json::Value>::deserialize(d).map(Some)
}

/// Checks a `source` object of `PATCH /v1/banks/{name}`.
fn source_config(value: serde_json::Value) -> AppResult<SourceConfig> {
    let config: SourceConfig = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_at("invalid_source", format!("source: {e}"), None, "source"))?;
    config
        .check()
        .map_err(|(field, m)| ApiError::bad_at("invalid_source", m, None, field))?;
    Ok(config)
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

/// An import's answer: the first errors (`import::MAX_REPORTED_ERRORS`) and how many there are.
#[derive(Serialize)]
struct ImportReport<'a> {
    errors: Vec<LineError<'a>>,
    error_count: usize,
    imported: usize,
}

/// An atomic import refused for its broken lines: the report with an `error` beside it.
#[derive(Serialize)]
struct ImportRejected<'a> {
    error: ErrorDetail,
    errors: Vec<LineError<'a>>,
    error_count: usize,
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
    check_storable_opt(req.description.as_deref(), None, "description")?;
    let name = req.name.clone();
    state
        .db(move |s| s.create_bank(&req.name, req.description.as_deref()))
        .await?;
    Ok((StatusCode::CREATED, Json(BankCreated { name })))
}

async fn list_banks(State(state): St, _: AdminKey) -> AppResult<Json<BankList>> {
    let (banks, sources) = state
        .db(|s| Ok((s.list_banks()?, s.list_sources()?)))
        .await?;
    let mut sources: std::collections::HashMap<String, SourceRow> =
        sources.into_iter().map(|s| (s.bank.clone(), s)).collect();
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
            source: sources.remove(&b.name).map(SourceView::from),
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
    if let Some(source) = req.source {
        let config = source.map(source_config).transpose()?;
        let b = bank.clone();
        state
            .db(move |s| {
                let stored = s.list_sources()?.into_iter().find(|r| r.bank == b);
                let old: Option<SourceConfig> =
                    stored.and_then(|r| serde_json::from_str(&r.config).ok());
                let reset = match (&old, &config) {
                    (Some(old), Some(new)) => !old.same_place(new),
                    _ => true,
                };
                let text = config
                    .as_ref()
                    .map(|c| serde_json::to_string(c).expect("strings and numbers"));
                s.set_source(&b, text.as_deref(), reset)
            })
            .await?;
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
        check_storable_opt(e.metadata.as_deref(), Some(i), "metadata")?;
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
    check_storable_opt(params.metadata.as_deref(), None, "metadata")?;
    let body = read_body(req, &()).await?;
    // Parsing up to --import-limit of text is CPU work: off the async threads.
    let mut parsed = tokio::task::spawn_blocking(move || {
        let text = std::str::from_utf8(&body)
            .map_err(|e| ApiError::bad("invalid_utf8", format!("the list is not UTF-8: {e}")))?;
        Ok::<_, ApiError>(parse_import(text, format, default))
    })
    .await
    .map_err(ApiError::internal)??;
    if format == ImportFormat::Vpdq {
        for e in &mut parsed.entries {
            e.metadata.clone_from(&params.metadata);
        }
    }
    for e in &parsed.entries {
        check_storable_opt(e.metadata.as_deref(), None, "metadata")?;
    }
    let errors: Vec<_> = parsed
        .errors
        .iter()
        .map(|e| LineError {
            line: e.line,
            message: &e.message,
        })
        .collect();
    let error_count = parsed.error_count;
    if atomic && error_count > 0 {
        let n = error_count;
        let rejected = ImportRejected {
            error: ErrorDetail::new(
                "import_rejected",
                format!("{n} line(s) have errors; nothing was imported (atomic)"),
            ),
            errors,
            error_count,
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
    tracing::info!(imported = ids.len(), rejected = error_count, "import");
    Ok(Json(ImportReport {
        errors,
        error_count,
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

/// Most lines of one page of an export, also the page size when `limit` is not given.
const EXPORT_PAGE_MAX: usize = 100_000;

/// The header that carries the `after` of an export's next page (absent on the last page).
const NEXT_PAGE_HEADER: &str = "pixelprint-next-after";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportPage {
    limit: Option<usize>,
    /// The id of the last entry of the previous page.
    after: Option<i64>,
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

/// `POST /v1/banks/{name}/entries/{id}/feedback`: a reviewer's verdict on a match with a
/// synced entry, queued for the exchange the entry came from (`crate::sources::feedback`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFeedback {
    verdict: Verdict,
    #[serde(default)]
    tags: Vec<String>,
}

/// Most tags on one feedback, and their longest length.
const MAX_FEEDBACK_TAGS: usize = 16;
const MAX_FEEDBACK_TAG_LEN: usize = 64;

/// A feedback row as the API shows it.
#[derive(Serialize)]
struct FeedbackState {
    attempts: i64,
    created_at: String,
    entry_id: String,
    exchange: Option<ExchangeKind>,
    id: String,
    last_error: Option<String>,
    /// Unix milliseconds of the next attempt, while pending.
    next_attempt_ms: i64,
    /// `pending`, `delivered` or `dead`.
    status: String,
    verdict: Option<Verdict>,
}

impl From<FeedbackRecord> for FeedbackState {
    fn from(f: FeedbackRecord) -> Self {
        let item: Option<FeedbackItem> = serde_json::from_str(&f.payload).ok();
        FeedbackState {
            attempts: f.attempts,
            created_at: rfc3339(f.created_at),
            entry_id: f.entry_id.to_string(),
            exchange: item.as_ref().map(|i| i.exchange),
            id: f.id,
            last_error: f.last_error,
            next_attempt_ms: f.next_attempt_ms,
            status: f.status,
            verdict: item.map(|i| i.verdict),
        }
    }
}

async fn entry_feedback(
    State(state): St,
    Path((bank, id)): Path<(String, String)>,
    Keyed(ReviewKey, JsonBody(req)): Keyed<ReviewKey, JsonBody<EntryFeedback>>,
) -> AppResult<(StatusCode, Json<FeedbackState>)> {
    let Ok(n) = id.parse::<i64>() else {
        return Err(ApiError::NotFound(format!(
            "no entry {id:?} in bank {bank:?}"
        )));
    };
    if req.tags.len() > MAX_FEEDBACK_TAGS
        || req
            .tags
            .iter()
            .any(|t| t.is_empty() || t.len() > MAX_FEEDBACK_TAG_LEN || t.contains('\0'))
    {
        return Err(ApiError::bad_at(
            "invalid_tags",
            format!(
                "tags: at most {MAX_FEEDBACK_TAGS}, each 1..={MAX_FEEDBACK_TAG_LEN} bytes of text"
            ),
            None,
            "tags",
        ));
    }
    let record = feedback::queue(&state, &bank, n, req.verdict, req.tags).await?;
    Ok((StatusCode::ACCEPTED, Json(record.into())))
}

#[derive(Serialize)]
struct FeedbackList {
    feedback: Vec<FeedbackState>,
}

/// `GET /v1/banks/{name}/feedback`: the bank's last 1,000 feedback rows, newest first.
async fn list_feedback(
    State(state): St,
    Path(bank): Path<String>,
    _: ReviewKey,
) -> AppResult<Json<FeedbackList>> {
    require_bank(&state, &bank).await?;
    let rows = state.db(move |s| s.list_feedback(&bank, 1000)).await?;
    Ok(Json(FeedbackList {
        feedback: rows.into_iter().map(FeedbackState::from).collect(),
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
    page: Result<UrlQuery<ExportPage>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Response> {
    let UrlQuery(page) = page.map_err(|e| ApiError::bad("invalid_query", e.body_text()))?;
    let limit = super::page_limit(page.limit, EXPORT_PAGE_MAX)?;
    require_bank(&state, &bank).await?;
    let after = page.after.unwrap_or(0);
    let mut entries = state
        .db(move |s| s.export_entries(&bank, after, limit + 1))
        .await?;
    let next = if entries.len() > limit {
        entries.truncate(limit);
        entries.last().map(|e| e.id)
    } else {
        None
    };
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
    let mut response =
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response();
    if let Some(id) = next {
        response
            .headers_mut()
            .insert(NEXT_PAGE_HEADER, axum::http::HeaderValue::from(id));
    }
    Ok(response)
}
