//! The marker segments of a JPEG file (T.81 B.1), walked by one iterator for every reader:
//! the completeness check, the header's dimensions and the decoder.
//!
//! The walk is libjpeg's (`jdmarker.c`, `next_marker`): stray bytes before a marker and fill
//! `FF` bytes are skipped; a segment is skipped by its length, so that an EXIF thumbnail's own
//! EOI is never mistaken for the image's; entropy-coded data after SOS is the reader's to
//! skip, by decoding it or by [`MarkerWalk::skip_entropy_coded`].

use crate::error::ContentError;

/// End of image.
pub(crate) const EOI: u8 = 0xD9;
/// Start of scan: entropy-coded data follows the segment.
pub(crate) const SOS: u8 = 0xDA;

/// One marker of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker<'a> {
    /// A marker without a segment: EOI, a restart marker (RSTn), TEM, or `FF 00`.
    Standalone(u8),
    /// A marker segment: its length field as declared (counting its own two bytes; a value
    /// under 2 is the reader's to refuse) and the bytes after the length field.
    Segment {
        code: u8,
        declared: usize,
        data: &'a [u8],
    },
}

/// Why the walk stopped before a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WalkEnd {
    /// The data ends before the next marker.
    NoMarker,
    /// The data ends inside a marker segment (or its length field).
    InSegment,
}

/// The markers of a JPEG file from a position on, in file order.
pub(crate) struct MarkerWalk<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> MarkerWalk<'a> {
    /// A walk starting after SOI (which format detection matched).
    pub(crate) fn after_soi(bytes: &'a [u8]) -> Self {
        MarkerWalk { bytes, pos: 2 }
    }

    /// The position of the next unread byte: after a SOS segment, the first byte of the
    /// entropy-coded data.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Continues the walk at `pos` (where a decoder stopped reading entropy-coded data).
    pub(crate) fn resume_at(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// Skips entropy-coded data: up to the first marker that is not a restart marker, a
    /// stuffed `FF 00` or a fill byte.
    pub(crate) fn skip_entropy_coded(&mut self) {
        self.pos = end_of_scan(self.bytes, self.pos);
    }

    /// The next marker, and its segment if it has one.
    pub(crate) fn next_marker(&mut self) -> Result<Marker<'a>, WalkEnd> {
        let bytes = self.bytes;
        let mut pos = self.pos;
        while pos < bytes.len() && bytes[pos] != 0xFF {
            pos += 1;
        }
        while pos + 1 < bytes.len() && bytes[pos + 1] == 0xFF {
            pos += 1;
        }
        let Some(&code) = bytes.get(pos + 1) else {
            self.pos = bytes.len();
            return Err(WalkEnd::NoMarker);
        };
        pos += 2;
        self.pos = pos;
        if matches!(code, EOI | 0xD0..=0xD7 | 0x01 | 0x00) {
            return Ok(Marker::Standalone(code));
        }
        let declared = match bytes.get(pos..pos + 2) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => return Err(WalkEnd::InSegment),
        };
        if pos + declared > bytes.len() {
            return Err(WalkEnd::InSegment);
        }
        let end = pos + declared.max(2);
        self.pos = end;
        Ok(Marker::Segment {
            code,
            declared,
            data: &bytes[pos + 2..end],
        })
    }
}

fn truncated(detail: &str) -> ContentError {
    ContentError::Truncated {
        format: "jpeg",
        detail: detail.to_string(),
    }
}

/// Whether the file reaches its end-of-image marker. Bytes after EOI are allowed, as libjpeg
/// allows them.
pub(crate) fn check_complete(bytes: &[u8]) -> Result<(), ContentError> {
    let mut walk = MarkerWalk::after_soi(bytes);
    loop {
        match walk.next_marker() {
            Ok(Marker::Standalone(EOI)) => return Ok(()),
            Ok(Marker::Segment { code: SOS, .. }) => walk.skip_entropy_coded(),
            Ok(_) => {}
            Err(WalkEnd::NoMarker) => {
                return Err(truncated("the data ends before the end-of-image marker"))
            }
            Err(WalkEnd::InSegment) => {
                return Err(truncated("the data ends inside a marker segment"))
            }
        }
    }
}

/// (width, height) from the first frame header (SOFn) before the first scan.
pub(crate) fn frame_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut walk = MarkerWalk::after_soi(bytes);
    loop {
        match walk.next_marker().ok()? {
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            Marker::Segment { code, data, .. }
                if (0xC0..=0xCF).contains(&code) && !matches!(code, 0xC4 | 0xC8 | 0xCC) =>
            {
                let height = u16::from_be_bytes([*data.get(1)?, *data.get(2)?]);
                let width = u16::from_be_bytes([*data.get(3)?, *data.get(4)?]);
                return Some((u32::from(width), u32::from(height)));
            }
            Marker::Segment { code: SOS, .. } | Marker::Standalone(EOI) => return None,
            _ => {}
        }
    }
}

/// The position of the first marker after entropy-coded data starting at `pos`, or the
/// end of the data.
fn end_of_scan(bytes: &[u8], mut pos: usize) -> usize {
    // The next FF with a byte after it; then that byte says whether a marker starts there.
    while pos + 1 < bytes.len() {
        let Some(ff) = memchr::memchr(0xFF, &bytes[pos..bytes.len() - 1]) else {
            break;
        };
        pos += ff;
        match bytes[pos + 1] {
            0x00 | 0xD0..=0xD7 | 0xFF => pos += 1,
            _ => return pos,
        }
    }
    bytes.len()
}
#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, an APP1 segment holding a thumbnail's EOI, SOS with stuffed and restart
    /// bytes, EOI.
    fn minimal() -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        v.extend([0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0x00, 0x00]);
        v.extend([0xFF, 0xDA, 0x00, 0x04, 0x01, 0x02]);
        v.extend([
            0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xFF, 0xD1, 0x78,
        ]);
        v.extend([0xFF, 0xD9]);
        v
    }

    #[test]
    fn a_complete_stream_passes_and_trailing_bytes_are_allowed() {
        assert_eq!(check_complete(&minimal()), Ok(()));
        let mut trailing = minimal();
        trailing.extend(b"trailer");
        assert_eq!(check_complete(&trailing), Ok(()));
    }

    #[test]
    fn the_end_of_a_scan_is_the_first_ff_that_starts_a_marker() {
        // The byte-by-byte rule, against random data dense in FF, 00 and restart markers.
        let naive = |bytes: &[u8], mut pos: usize| {
            while pos + 1 < bytes.len() {
                match (bytes[pos], bytes[pos + 1]) {
                    (0xFF, 0x00 | 0xD0..=0xD7 | 0xFF) | (0..=0xFE, _) => pos += 1,
                    _ => return pos,
                }
            }
            bytes.len()
        };
        let mut seed = 0x2545_f491_u32;
        let alphabet = [0xFF, 0x00, 0xD0, 0xD7, 0xD9, 0xDA, 0x12];
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    alphabet[seed as usize % alphabet.len()]
                })
                .collect();
            for start in 0..len.min(8) {
                assert_eq!(
                    end_of_scan(&bytes, start),
                    naive(&bytes, start),
                    "{bytes:x?} from {start}"
                );
            }
        }
    }

    #[test]
    fn every_cut_before_the_eoi_is_truncated() {
        let full = minimal();
        for cut in 2..full.len() - 1 {
            let err = check_complete(&full[..cut]).unwrap_err();
            assert_eq!(err.code(), "truncated_image", "cut at {cut}");
        }
    }
}
