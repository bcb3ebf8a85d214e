//! Bulk import: list text in the ecosystem's formats to entries, with line-numbered errors.
//!
//! Text formats (plain hex, `hash,metadata`, ThreatExchange `pdq <hex>`, HMA CSV) are parsed by
//! [`pixelprint::hashlist`], which recognises each line's format; the `format` parameter only
//! says which one to expect. StopNCII records are JSON: an array of records, or one record per
//! line (JSON Lines), each with `signalType`/`signal_type` and `hashValue`/`hash_value`/`hash`;
//! every other field is kept as the entry's metadata (JSON text).

use pixelprint::hashlist::{list_algorithm, parse_list_line, ListLineError};
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

/// Errors an import answer lists; the others are only counted.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// What an import's text holds: its entries, the first [`MAX_REPORTED_ERRORS`] broken lines
/// and how many there are. Entries take about the room of their text (the body is within
/// `--import-limit`); errors past the first few take none.
#[derive(Default)]
pub struct Parsed {
    pub entries: Vec<NewEntry>,
    pub errors: Vec<ListLineError>,
    pub error_count: usize,
}

impl Parsed {
    fn error(&mut self, line: usize, message: impl FnOnce() -> String) {
        self.error_count += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(ListLineError {
                line,
                message: message(),
            });
        }
    }
}

/// The algorithm of a list's plain hex lines.
fn list_default(a: Algorithm) -> Algorithm {
    match a {
        // A vPDQ list is one video's text (format=vpdq), never lines of hex.
        Algorithm::Vpdq => Algorithm::Pdq,
        other => other,
    }
}

/// Parses an import's text line by line (records one by one), never holding more than the
/// entries and the first errors. CPU work for large bodies: callers run it off the async
/// threads.
pub fn parse_import(text: &str, format: ImportFormat, default: Algorithm) -> Parsed {
    if format == ImportFormat::Vpdq {
        return parse_video(text);
    }
    let json = matches!(text.trim_start().chars().next(), Some('[' | '{'));
    if format == ImportFormat::StopNcii || (format == ImportFormat::Auto && json) {
        return parse_stopncii(text);
    }
    let default = list_default(default);
    let mut parsed = Parsed::default();
    for (i, line) in text.lines().enumerate() {
        match parse_list_line(line, i + 1, default) {
            Ok(None) => {}
            Ok(Some(e)) if is_bank_algorithm(e.algorithm) => parsed.entries.push(NewEntry {
                algorithm: e.algorithm,
                hash: e.value.to_hex(),
                metadata: e.metadata,
            }),
            Ok(Some(e)) => parsed.error(e.line, || {
                format!("{} hashes are not matched by this server", e.algorithm)
            }),
            Err(e) => parsed.error(e.line, || e.message),
        }
    }
    parsed
}

fn parse_video(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let checked = parse_vpdq_text(text)
        .map_err(|e| (e.line, e.message))
        .and_then(|features| {
            canonical_hash(Algorithm::Vpdq, &write_vpdq_text(&features)).map_err(|m| (1, m))
        });
    match checked {
        Ok(hash) => parsed.entries.push(NewEntry {
            algorithm: Algorithm::Vpdq,
            hash,
            metadata: None,
        }),
        Err((line, message)) => parsed.error(line, || message),
    }
    parsed
}

fn take_record(parsed: &mut Parsed, line: usize, record: Result<Value, String>) {
    match record.and_then(stopncii_entry) {
        Ok(e) => parsed.entries.push(e),
        Err(message) => parsed.error(line, || message),
    }
}

/// An array of records, each taken as it is read (no array of values in between).
struct RecordArray<'p>(&'p mut Parsed);

impl<'de> serde::de::Visitor<'de> for RecordArray<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // In an array, "line" counts records from 1.
        let mut n = 0;
        while let Some(record) = seq.next_element::<Value>()? {
            n += 1;
            take_record(self.0, n, Ok(record));
        }
        Ok(())
    }
}

fn parse_stopncii(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    if text.trim_start().starts_with('[') {
        let mut de = serde_json::Deserializer::from_str(text);
        let read = serde::Deserializer::deserialize_seq(&mut de, RecordArray(&mut parsed))
            .and_then(|()| de.end());
        if let Err(e) = read {
            // Broken JSON: nothing of the array is taken.
            parsed = Parsed::default();
            parsed.error(e.line(), || format!("invalid JSON: {e}"));
        }
        return parsed;
    }
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(l).map_err(|e| format!("invalid JSON: {e}"));
        take_record(&mut parsed, i + 1, record);
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
