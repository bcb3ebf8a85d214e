//! Bulk import: list text in the ecosystem's formats to entries, with line-numbered errors.
//!
//! Text formats (plain hex, `hash,metadata`, ThreatExchange `pdq <hex>`, HMA CSV) are parsed by
//! [`pixelprint::hashlist`], which recognises each line's format; the `format` parameter only
//! says which one to expect. StopNCII records are JSON: an array of records, or one record per
//! line (JSON Lines), each with `signalType`/`signal_type` and `hashValue`/`hash_value`/`hash`;
//! every other field is kept as the entry's metadata (JSON text).

use pixelprint::hashlist::{list_algorithm, parse_hash_list, ListLineError};
use pixelprint::video::{parse_vpdq_text, write_vpdq_text};
use serde_json::Value;

use pixelprint::Algorithm;

use crate::model::{canonical_hash, is_bank_algorithm, NewEntry};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    Auto,
    Plain,
    Csv,
    ThreatExchange,
    Hma,
    StopNcii,
    /// One video's vPDQ in the reference text format (`frameNumber,quality,pdqHex,timestamp`
    /// per line): one entry.
    Vpdq,
}

impl ImportFormat {
    pub fn from_name(name: &str) -> Option<ImportFormat> {
        Some(match name {
            "auto" => ImportFormat::Auto,
            "plain" => ImportFormat::Plain,
            "csv" => ImportFormat::Csv,
            "threatexchange" => ImportFormat::ThreatExchange,
            "hma" => ImportFormat::Hma,
            "stopncii" => ImportFormat::StopNcii,
            "vpdq" => ImportFormat::Vpdq,
            _ => return None,
        })
    }
}

pub struct Parsed {
    pub entries: Vec<NewEntry>,
    pub errors: Vec<ListLineError>,
}

/// The algorithm of a list's plain hex lines.
fn list_default(a: Algorithm) -> Algorithm {
    match a {
        // A vPDQ list is one video's text (format=vpdq), never lines of hex.
        Algorithm::Vpdq => Algorithm::Pdq,
        other => other,
    }
}

pub fn parse_import(text: &str, format: ImportFormat, default: Algorithm) -> Parsed {
    if format == ImportFormat::Vpdq {
        return parse_video(text);
    }
    let json = matches!(text.trim_start().chars().next(), Some('[' | '{'));
    if format == ImportFormat::StopNcii || (format == ImportFormat::Auto && json) {
        return parse_stopncii(text);
    }
    let list = parse_hash_list(text, list_default(default));
    let mut parsed = Parsed {
        entries: Vec::with_capacity(list.entries.len()),
        errors: list.errors,
    };
    for e in list.entries {
        match Some(e.algorithm).filter(|a| is_bank_algorithm(*a)) {
            Some(algorithm) => parsed.entries.push(NewEntry {
                algorithm,
                hash: e.value.to_hex(),
                metadata: e.metadata,
            }),
            None => parsed.errors.push(ListLineError {
                line: e.line,
                message: format!("{} hashes are not matched by this server", e.algorithm),
            }),
        }
    }
    parsed.errors.sort_by_key(|e| e.line);
    parsed
}

fn parse_video(text: &str) -> Parsed {
    let mut parsed = Parsed {
        entries: vec![],
        errors: vec![],
    };
    let checked = parse_vpdq_text(text)
        .map_err(|e| ListLineError {
            line: e.line,
            message: e.message,
        })
        .and_then(|features| {
            canonical_hash(Algorithm::Vpdq, &write_vpdq_text(&features))
                .map_err(|message| ListLineError { line: 1, message })
        });
    match checked {
        Ok(hash) => parsed.entries.push(NewEntry {
            algorithm: Algorithm::Vpdq,
            hash,
            metadata: None,
        }),
        Err(e) => parsed.errors.push(e),
    }
    parsed
}

fn parse_stopncii(text: &str) -> Parsed {
    let mut parsed = Parsed {
        entries: vec![],
        errors: vec![],
    };
    let records: Vec<(usize, Result<Value, String>)> = if text.trim_start().starts_with('[') {
        match serde_json::from_str::<Vec<Value>>(text) {
            // In an array, "line" counts records from 1.
            Ok(v) => v
                .into_iter()
                .enumerate()
                .map(|(i, r)| (i + 1, Ok(r)))
                .collect(),
            Err(e) => vec![(e.line(), Err(format!("invalid JSON: {e}")))],
        }
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                (
                    i + 1,
                    serde_json::from_str(l).map_err(|e| format!("invalid JSON: {e}")),
                )
            })
            .collect()
    };
    for (line, record) in records {
        match record.and_then(stopncii_entry) {
            Ok(e) => parsed.entries.push(e),
            Err(message) => parsed.errors.push(ListLineError { line, message }),
        }
    }
    parsed
}

fn stopncii_entry(record: Value) -> Result<NewEntry, String> {
    let Value::Object(mut map) = record else {
        return Err("a record is a JSON object".into());
    };
    let take = |map: &mut serde_json::Map<String, Value>, keys: &[&str]| {
        keys.iter().find_map(|k| map.remove(*k))
    };
    let signal =
        take(&mut map, &["signalType", "signal_type"]).ok_or("a record needs signalType")?;
    let hash =
        take(&mut map, &["hashValue", "hash_value", "hash"]).ok_or("a record needs hashValue")?;
    let (Value::String(signal), Value::String(hash)) = (signal, hash) else {
        return Err("signalType and hashValue are strings".into());
    };
    let algorithm = list_algorithm(&signal)
        .filter(|a| is_bank_algorithm(*a))
        .ok_or_else(|| format!("signal type {signal:?} is not matched by this server"))?;
    let hash = canonical_hash(algorithm, hash.trim())?;
    let metadata = (!map.is_empty()).then(|| Value::Object(map).to_string());
    Ok(NewEntry {
        algorithm,
        hash,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

    #[test]
    fn broken_lines_are_numbered() {
        let text = format!("{PDQ}\nnot hex\nwhash 0123456789abcdef\npdq {PDQ}\n");
        let p = parse_import(&text, ImportFormat::Auto, Algorithm::Pdq);
        assert_eq!(p.entries.len(), 2);
        let lines: Vec<usize> = p.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3]);
    }

    #[test]
    fn stopncii_records_in_json_lines_and_arrays() {
        let lines = format!(
            "{{\"signalType\":\"PDQ\",\"hashValue\":\"{PDQ}\",\"caseNumber\":\"7\"}}\n{{\"signalType\":\"PDQ\"}}\n"
        );
        let p = parse_import(&lines, ImportFormat::StopNcii, Algorithm::Pdq);
        assert_eq!(p.entries.len(), 1);
        assert_eq!(
            p.entries[0].metadata.as_deref(),
            Some("{\"caseNumber\":\"7\"}")
        );
        assert_eq!(p.errors[0].line, 2);
        let array = r#"[{"signal_type":"md5","hash":"D41D8CD98F00B204E9800998ECF8427E"}]"#;
        let p = parse_import(array, ImportFormat::Auto, Algorithm::Pdq);
        assert_eq!(p.entries[0].hash, "d41d8cd98f00b204e9800998ecf8427e");
    }
}
