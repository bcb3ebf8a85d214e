//! The reference vPDQ text format: one line per hashed frame,
//! `frameNumber,quality,pdqHex,timestamp`, e.g. `30,100,4ce949b1...b454,1.000`.
//!
//! Written as `outputVPDQFeatureToFile` in `vpdq/cpp/vpdq/cpp/io/vpdqio.cpp` writes it: the
//! timestamp with exactly 3 decimals (`std::fixed`, `setprecision(3)`), lower-case hex, `\n`
//! after every line, frames in increasing order. Rust's `{:.3}` rounds the exact binary value
//! half to even, as glibc's printf does, so the digits agree.
//!
//! The parser is stricter than the reference reader (`loadHashesFromFileOrDie`, which accepts
//! extra fields and anything `std::stoi`/`std::stod` accept): exactly four fields, decimal
//! digits only, quality 0..=100, 64 hex digits, a plain non-negative decimal timestamp, frame
//! numbers strictly increasing, at least one line. `\r\n` line ends are accepted. Every error
//! names its 1-based line; no input panics.

use std::fmt::Write as _;

use super::VpdqFeature;
use crate::hash::PdqHash;

/// Upper bound on the length of one line; a valid line is at most about 100 bytes.
pub const MAX_LINE_BYTES: usize = 1024;

/// A line that is not a valid vPDQ feature, or a file without any.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct VpdqTextError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

/// The line of one feature, without the line end.
pub fn feature_line(feature: &VpdqFeature) -> String {
    format!(
        "{},{},{},{:.3}",
        feature.frame_number, feature.quality, feature.hash, feature.timestamp
    )
}

/// The reference file for `features`: one line each, every line ending in `\n`.
pub fn write_vpdq_text(features: &[VpdqFeature]) -> String {
    let mut out = String::with_capacity(features.len() * 80);
    for f in features {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{}", feature_line(f));
    }
    out
}

/// A timestamp as the text format stores it: rounded to 3 decimals the way it is printed.
pub(crate) fn millis(timestamp: f64) -> f64 {
    format!("{timestamp:.3}").parse().unwrap_or(timestamp)
}

/// Parses a whole vPDQ file.
pub fn parse_vpdq_text(text: &str) -> Result<Vec<VpdqFeature>, VpdqTextError> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.is_empty() {
        return Err(VpdqTextError {
            line: 1,
            message: "no frames: expected at least one line frameNumber,quality,pdqHex,timestamp"
                .to_string(),
        });
    }
    let mut features: Vec<VpdqFeature> = Vec::new();
    for (i, raw) in body.split('\n').enumerate() {
        let line = i + 1;
        let fail = |message: String| VpdqTextError { line, message };
        let feature = parse_line(raw.strip_suffix('\r').unwrap_or(raw)).map_err(fail)?;
        if let Some(prev) = features.last() {
            if feature.frame_number <= prev.frame_number {
                return Err(fail(format!(
                    "frame numbers must increase: frame {} after frame {}",
                    feature.frame_number, prev.frame_number
                )));
            }
        }
        features.push(feature);
    }
    Ok(features)
}

fn parse_line(line: &str) -> Result<VpdqFeature, String> {
    if line.len() > MAX_LINE_BYTES {
        return Err(format!("line longer than {MAX_LINE_BYTES} bytes"));
    }
    if line.is_empty() {
        return Err("empty line: expected frameNumber,quality,pdqHex,timestamp".to_string());
    }
    let fields: Vec<&str> = line.split(',').collect();
    let [frame, quality, hex, timestamp] = fields[..] else {
        return Err(format!(
            "expected 4 comma-separated fields frameNumber,quality,pdqHex,timestamp, found {}",
            fields.len()
        ));
    };
    let frame_number = digits("frame number", frame)?
        .parse::<u64>()
        .map_err(|_| format!("frame number {frame:?} is too large"))?;
    let quality = match digits("quality", quality)?.parse::<u8>() {
        Ok(q) if q <= 100 => q,
        _ => return Err(format!("quality must be 0..=100, found {quality}")),
    };
    let hash = PdqHash::from_hex(hex).map_err(|e| format!("invalid pdq hash: {e}"))?;
    let (whole, fraction) = timestamp.split_once('.').unwrap_or((timestamp, "0"));
    digits("timestamp", whole)?;
    digits("timestamp", fraction)?;
    let timestamp = timestamp
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite())
        .ok_or_else(|| format!("timestamp {timestamp:?} is out of range"))?;
    Ok(VpdqFeature {
        frame_number,
        timestamp,
        hash,
        quality,
    })
}

/// `field` itself if it is one or more ASCII digits.
fn digits<'a>(what: &str, field: &'a str) -> Result<&'a str, String> {
    if !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit()) {
        Ok(field)
    } else {
        Err(format!(
            "{what} must be a non-negative decimal number, found {field:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "4ce949b11f1035e2f2eb0a5e76f68716870e70f97bd91d1049a3dbe1d164b454";

    fn feature(frame_number: u64, timestamp: f64) -> VpdqFeature {
        VpdqFeature {
            frame_number,
            timestamp,
            hash: PdqHash::from_hex(HEX).unwrap(),
            quality: 100,
        }
    }

    #[test]
    fn writes_three_decimals_like_the_reference() {
        let text = write_vpdq_text(&[feature(0, 0.0), feature(1, f64::from(1.0f32 / 30.0))]);
        assert_eq!(text, format!("0,100,{HEX},0.000\n1,100,{HEX},0.033\n"));
        // Ties of the exact binary value round to even, as glibc's printf does.
        assert_eq!(
            feature_line(&feature(1, 0.0625)),
            format!("1,100,{HEX},0.062")
        );
        assert_eq!(
            feature_line(&feature(3, 0.1875)),
            format!("3,100,{HEX},0.188")
        );
    }

    #[test]
    fn parses_what_it_writes_and_crlf() {
        let text = format!("0,100,{HEX},0.000\r\n30,49,{},1.000", HEX.to_uppercase());
        let got = parse_vpdq_text(&text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[1].frame_number, got[1].quality, got[1].timestamp),
            (30, 49, 1.0)
        );
        assert_eq!(got[1].hash.to_hex(), HEX);
    }

    #[test]
    fn every_broken_line_is_an_error_with_its_line_number() {
        let good = format!("0,100,{HEX},0.000");
        let cases = [
            ("", 1, "no frames"),
            ("\n", 1, "no frames"),
            ("\n\n", 1, "empty line"),
            (&format!("{good}\n\n") as &str, 2, "empty line"),
            (&format!("{good}\n1,100,{HEX}"), 2, "expected 4"),
            (&format!("{good}\n1,100,{HEX},0.1,x"), 2, "found 5"),
            (&format!("-1,100,{HEX},0.0"), 1, "frame number must be"),
            (&format!("99999999999999999999,1,{HEX},0.0"), 1, "too large"),
            (&format!("0,101,{HEX},0.0"), 1, "quality must be 0..=100"),
            (&format!("0,999,{HEX},0.0"), 1, "quality must be 0..=100"),
            (&format!("0, 50,{HEX},0.0"), 1, "quality must be"),
            ("0,50,abc,0.0", 1, "invalid pdq hash: expected 64"),
            (&format!("0,50,{HEX},1e3"), 1, "timestamp must be"),
            (&format!("0,50,{HEX},-0.5"), 1, "timestamp must be"),
            (&format!("0,50,{HEX},inf"), 1, "timestamp must be"),
            (&format!("0,50,{HEX},1."), 1, "timestamp must be"),
            (&format!("{good}\n{good}"), 2, "frame numbers must increase"),
            (&"9".repeat(2000), 1, "longer than"),
        ];
        for (text, line, message) in cases {
            let e = parse_vpdq_text(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(message), "{text:?}: {e}");
        }
    }
}
