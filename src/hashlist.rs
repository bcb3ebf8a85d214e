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

use std::fmt;

/// The kinds of hash a list can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SignalType {
    Pdq,
    AHash,
    DHash,
    DHashVertical,
    PHash,
    PHash16,
    WHash,
    Md5,
    Sha1,
    Sha256,
}

impl SignalType {
    /// Every signal type, in a stable order.
    pub const ALL: [SignalType; 10] = [
        SignalType::Pdq,
        SignalType::AHash,
        SignalType::DHash,
        SignalType::DHashVertical,
        SignalType::PHash,
        SignalType::PHash16,
        SignalType::WHash,
        SignalType::Md5,
        SignalType::Sha1,
        SignalType::Sha256,
    ];

    /// The canonical name, as used by the CLI and the HTTP API.
    pub const fn name(self) -> &'static str {
        match self {
            SignalType::Pdq => "pdq",
            SignalType::AHash => "ahash",
            SignalType::DHash => "dhash",
            SignalType::DHashVertical => "dhash-vertical",
            SignalType::PHash => "phash",
            SignalType::PHash16 => "phash16",
            SignalType::WHash => "whash",
            SignalType::Md5 => "md5",
            SignalType::Sha1 => "sha1",
            SignalType::Sha256 => "sha256",
        }
    }

    /// Parses a name or a common alias (case-insensitive; `_` and `-` are interchangeable).
    pub fn from_name(name: &str) -> Option<SignalType> {
        let n = name.trim().to_ascii_lowercase().replace('_', "-");
        let found = match n.as_str() {
            "pdq" | "photo-pdq" => SignalType::Pdq,
            "ahash" | "average-hash" => SignalType::AHash,
            "dhash" => SignalType::DHash,
            "dhash-vertical" => SignalType::DHashVertical,
            "phash" => SignalType::PHash,
            "phash16" => SignalType::PHash16,
            "whash" | "whash-haar" => SignalType::WHash,
            "md5" | "photo-md5" => SignalType::Md5,
            "sha1" => SignalType::Sha1,
            "sha256" | "sha-256" => SignalType::Sha256,
            _ => return None,
        };
        Some(found)
    }

    /// Number of hex characters of a hash of this type.
    pub const fn hex_len(self) -> usize {
        match self {
            SignalType::Pdq | SignalType::PHash16 | SignalType::Sha256 => 64,
            SignalType::AHash
            | SignalType::DHash
            | SignalType::DHashVertical
            | SignalType::PHash
            | SignalType::WHash => 16,
            SignalType::Md5 => 32,
            SignalType::Sha1 => 40,
        }
    }

    /// Whether two hashes of this type match by Hamming distance (else only by equality).
    pub const fn is_perceptual(self) -> bool {
        !matches!(
            self,
            SignalType::Md5 | SignalType::Sha1 | SignalType::Sha256
        )
    }
}

impl fmt::Display for SignalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One hash of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// 1-based line number in the input.
    pub line: usize,
    pub signal: SignalType,
    /// Lower-case hex of exactly `signal.hex_len()` characters.
    pub hash: String,
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

fn check_hex(signal: SignalType, hex: &str) -> Result<String, String> {
    let want = signal.hex_len();
    if let Some((i, c)) = hex.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "invalid hex character {c:?} at position {i} of the {signal} hash"
        ));
    }
    if hex.len() != want {
        return Err(format!(
            "a {signal} hash has {want} hex characters, found {}",
            hex.len()
        ));
    }
    Ok(hex.to_ascii_lowercase())
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn parse_line(
    line: &str,
    default: SignalType,
) -> Result<Option<(SignalType, String, Option<String>)>, String> {
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
        if let Some(signal) = SignalType::from_name(first) {
            let rest = rest.trim_start();
            let (hex, meta) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            return Ok(Some((signal, check_hex(signal, hex)?, non_empty(meta))));
        }
    }
    // `signal_type,signal_str,...` (HMA CSV)
    if let Some((first, rest)) = line.split_once(',') {
        if let Some(signal) = SignalType::from_name(first) {
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

/// Parses a whole list. Plain hex lines are taken as `default`.
pub fn parse_hash_list(text: &str, default: SignalType) -> HashList {
    let mut list = HashList::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        match parse_line(line, default) {
            Ok(None) => {}
            Ok(Some((signal, hash, metadata))) => list.entries.push(ListEntry {
                line: line_no,
                signal,
                hash,
                metadata,
            }),
            Err(message) => list.errors.push(ListLineError {
                line: line_no,
                message,
            }),
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
        let list = parse_hash_list(&text, SignalType::Pdq);
        assert_eq!(list.errors, vec![]);
        let got: Vec<_> = list
            .entries
            .iter()
            .map(|e| (e.line, e.signal, e.metadata.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, SignalType::Pdq, None),
                (4, SignalType::Pdq, Some("bridge photo")),
                (5, SignalType::Pdq, None),
                (6, SignalType::Pdq, None),
                (8, SignalType::Pdq, Some("bank a")),
                (9, SignalType::Md5, None),
            ]
        );
        assert_eq!(list.entries[5].hash, "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn broken_lines_are_reported_with_their_numbers_and_the_rest_is_kept() {
        let text = format!("{PDQ}\nabc\n{}g\npdq 1234\n{PDQ}\n", &PDQ[..63]);
        let list = parse_hash_list(&text, SignalType::Pdq);
        assert_eq!(
            list.entries.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![1, 5]
        );
        let lines: Vec<_> = list.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert_eq!(
            list.errors[0].to_string(),
            "line 2: a pdq hash has 64 hex characters, found 3"
        );
        assert!(list.errors[1]
            .message
            .contains("invalid hex character 'g' at position 63"));
    }

    #[test]
    fn names_round_trip() {
        for s in SignalType::ALL {
            assert_eq!(SignalType::from_name(s.name()), Some(s));
        }
    }
}
