//! Hash lists as they are exchanged: parsing the line formats of the ecosystem into typed
//! entries, with the line number of every entry and of every problem.
//!
//! Accepted, detected line by line:
//! - plain hex, optionally with metadata after a comma: `f8f8...9b22,some label`
//!   (also the reference tools' `hash=f8f8...` prefix);
//! - ThreatExchange-style `<signal type> <hex> [anything]`: `pdq f8f8...9b22`;
//! - HMA CSV `signal_type,signal_str,...`: `pdq,f8f8...9b22,bank,...` (a header line
//!   `signal_type,signal_str,...` is skipped);
//! - blank lines and `#` comments are skipped.
//!
//! Plain hex lines take the caller's default signal type. Hex is checked for the type's exact
//! length and normalised to lower case.

use crate::algorithm::Algorithm;
use crate::hash::HashValue;

/// The algorithm a list's type word names (`pdq`, `photo_md5`, ...), if a list line can hold it.
pub fn list_algorithm(name: &str) -> Option<Algorithm> {
    Algorithm::from_name(name).filter(|a| a.info().listable)
}

/// One hash of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// 1-based line number in the input.
    pub line: usize,
    pub algorithm: Algorithm,
    pub value: HashValue,
    /// What followed the hash on its line, if anything.
    pub metadata: Option<String>,
}

/// A line that is not a valid entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ListLineError {
    /// 1-based line number in the input.
    pub line: usize,
    pub message: String,
}

/// A parsed list: the valid entries and the lines that were not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashList {
    pub entries: Vec<ListEntry>,
    pub errors: Vec<ListLineError>,
}

/// Upper bound on the length of one line; longer lines are reported, not parsed.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

fn check_hex(algorithm: Algorithm, hex: &str) -> Result<HashValue, String> {
    HashValue::from_hex(algorithm, hex).map_err(|e| e.to_string())
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn parse_line(
    line: &str,
    default: Algorithm,
) -> Result<Option<(Algorithm, HashValue, Option<String>)>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    if line.len() > MAX_LINE_BYTES {
        return Err(format!("line longer than {MAX_LINE_BYTES} bytes"));
    }
    // HMA CSV header.
    if line.to_ascii_lowercase().starts_with("signal_type,") {
        return Ok(None);
    }
    // `<type> <hex> [rest]`
    if let Some((first, rest)) = line.split_once(char::is_whitespace) {
        if let Some(signal) = list_algorithm(first) {
            let rest = rest.trim_start();
            let (hex, meta) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            return Ok(Some((signal, check_hex(signal, hex)?, non_empty(meta))));
        }
    }
    // `signal_type,signal_str,...` (HMA CSV)
    if let Some((first, rest)) = line.split_once(',') {
        if let Some(signal) = list_algorithm(first) {
            let (hex, meta) = rest.split_once(',').unwrap_or((rest, ""));
            return Ok(Some((
                signal,
                check_hex(signal, hex.trim())?,
                non_empty(meta),
            )));
        }
    }
    // `[hash=]<hex>[,metadata]`
    let (hex, meta) = line.split_once(',').unwrap_or((line, ""));
    let hex = hex.trim();
    let hex = hex.strip_prefix("hash=").unwrap_or(hex);
    Ok(Some((default, check_hex(default, hex)?, non_empty(meta))))
}

/// Parses line `line_no` (1-based) of a list: `None` for a blank line, a comment or a header.
/// Plain hex is taken as `default`. One line at a time, for callers that stream a long list.
pub fn parse_list_line(
    line: &str,
    line_no: usize,
    default: Algorithm,
) -> Result<Option<ListEntry>, ListLineError> {
    match parse_line(line, default) {
        Ok(None) => Ok(None),
        Ok(Some((algorithm, value, metadata))) => Ok(Some(ListEntry {
            line: line_no,
            algorithm,
            value,
            metadata,
        })),
        Err(message) => Err(ListLineError {
            line: line_no,
            message,
        }),
    }
}

/// Parses a whole list. Plain hex lines are taken as `default`.
pub fn parse_hash_list(text: &str, default: Algorithm) -> HashList {
    let mut list = HashList::default();
    for (i, line) in text.lines().enumerate() {
        match parse_list_line(line, i + 1, default) {
            Ok(None) => {}
            Ok(Some(entry)) => list.entries.push(entry),
            Err(error) => list.errors.push(error),
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

    #[test]
    fn every_line_format_of_the_ecosystem_is_understood() {
        let text = format!(
            "# a comment\n\n{PDQ}\n{PDQ},bridge photo\nhash={PDQ}\npdq {PDQ}\nsignal_type,signal_str,bank\npdq,{PDQ},bank a\nmd5,D41D8CD98F00B204E9800998ECF8427E\n"
        );
        let list = parse_hash_list(&text, Algorithm::Pdq);
        assert_eq!(list.errors, vec![]);
        let got: Vec<_> = list
            .entries
            .iter()
            .map(|e| (e.line, e.algorithm, e.metadata.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, Algorithm::Pdq, None),
                (4, Algorithm::Pdq, Some("bridge photo")),
                (5, Algorithm::Pdq, None),
                (6, Algorithm::Pdq, None),
                (8, Algorithm::Pdq, Some("bank a")),
                (9, Algorithm::Md5, None),
            ]
        );
        assert_eq!(
            list.entries[5].value.to_hex(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn broken_lines_are_reported_with_their_numbers_and_the_rest_is_kept() {
        let text = format!("{PDQ}\nabc\n{}g\npdq 1234\n{PDQ}\n", &PDQ[..63]);
        let list = parse_hash_list(&text, Algorithm::Pdq);
        assert_eq!(
            list.entries.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![1, 5]
        );
        let lines: Vec<_> = list.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert_eq!(
            list.errors[0].to_string(),
            "line 2: invalid pdq hash: expected 64 hex characters, found 3"
        );
        assert!(list.errors[1]
            .message
            .contains("invalid hex character 'g' at position 63"));
        // Names that are not a list line's type are not taken for one.
        assert_eq!(list_algorithm("pdq-dihedral"), None);
        assert_eq!(list_algorithm("vpdq"), None);
    }

    #[test]
    fn names_round_trip() {
        for a in Algorithm::ALL.into_iter().filter(|a| a.info().listable) {
            assert_eq!(list_algorithm(a.name()), Some(a));
        }
    }
}
