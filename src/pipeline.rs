//! From file bytes to every requested hash in one call: decode once, then PDQ, the imagehash
//! family and the digests of the original bytes.
//!
//! The CLI, the server and the wasm package all call [`hash_bytes`], so they give identical
//! results for the same file and options. [`FileHashes`] serialises to the documented JSON
//! (snake_case keys, only the requested ones).

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

pub use crate::algorithm::AlgorithmSet;
use crate::algorithm::{Algorithm, AlgorithmMap, Input};
use crate::caption::pdq_captioned;
use crate::decode::sink::{Grey, Pdq, RowSink, Tee};
use crate::decode::{decode, decode_rows, DecodeOptions, Decoded, DecodedImage};
use crate::digest::digest;
use crate::embedded::pdq_embedded;
use crate::error::Error;
use crate::hash::{HashValue, PdqHash};
use crate::imagehash;
use crate::pdq::{pdq_dihedral, pdq_hash, PdqOutput};
use crate::pixels::{PixelFormat, PixelView};
use crate::straighten::pdq_straightened;
use crate::trim::pdq_trimmed;

/// What to compute and how to decode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashOptions {
    pub algorithms: AlgorithmSet,
    pub decode: DecodeOptions,
}

/// The results for one file: the image's size and format and a value per requested
/// algorithm. Serialises to the documented JSON object (without `path`, which the caller knows):
/// `width`, `height`, `format`, then each algorithm's key in output order, PDQ as
/// `{"hash", "quality"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileHashes {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub format: Option<&'static str>,
    /// The EXIF orientation tag (1-8) when present; reported, not part of the hashes' JSON.
    pub orientation: Option<u8>,
    /// PDQ's quality (0-100), set with PDQ or its dihedral hashes.
    pub pdq_quality: Option<u8>,
    pub hashes: AlgorithmMap<HashValue>,
}

impl FileHashes {
    /// One algorithm's value.
    pub fn get(&self, a: Algorithm) -> Option<&HashValue> {
        self.hashes.get(a)
    }

    /// PDQ with its quality.
    pub fn pdq(&self) -> Option<PdqOutput> {
        match (self.hashes.get(Algorithm::Pdq), self.pdq_quality) {
            (Some(HashValue::Pdq(hash)), Some(quality)) => Some(PdqOutput {
                hash: *hash,
                quality,
            }),
            _ => None,
        }
    }

    /// The eight dihedral PDQ hashes.
    pub fn pdq_dihedral(&self) -> Option<[PdqHash; 8]> {
        match self.hashes.get(Algorithm::PdqDihedral) {
            Some(HashValue::PdqDihedral(d)) => Some(*d),
            _ => None,
        }
    }

    /// The result for one algorithm as hex (the eight dihedral hashes joined by `:`).
    pub fn hex(&self, a: Algorithm) -> Option<String> {
        self.hashes.get(a).map(HashValue::to_hex)
    }
}

impl Serialize for FileHashes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(w) = self.width {
            map.serialize_entry("width", &w)?;
        }
        if let Some(h) = self.height {
            map.serialize_entry("height", &h)?;
        }
        if let Some(f) = self.format {
            map.serialize_entry("format", f)?;
        }
        for (a, value) in self.hashes.iter() {
            match (a, self.pdq()) {
                (Algorithm::Pdq, Some(pdq)) => map.serialize_entry(a.key(), &pdq)?,
                _ => map.serialize_entry(a.key(), value)?,
            }
        }
        map.end()
    }
}

/// Hashes already-decoded pixels with every requested pixel algorithm.
pub fn hash_image(
    image: &DecodedImage,
    algorithms: AlgorithmSet,
    out: &mut FileHashes,
) -> Result<(), Error> {
    out.format = Some(image.source_format().name());
    out.orientation = image.orientation().map(|o| o.tag());
    hash_view(&image.view(), algorithms, out)
}

/// The hashes from what the decoder gave: its rows went to the PDQ sink (`pdq`) and Pillow's
/// grey sink (`grey`) as they were made, or it gave the whole image.
fn hash_decoded(
    decoded: Decoded,
    pdq: Option<Pdq>,
    grey: Option<Grey>,
    algorithms: AlgorithmSet,
    out: &mut FileHashes,
) -> Result<(), Error> {
    let info = match decoded {
        Decoded::Image(image) => return hash_image(&image, algorithms, out),
        Decoded::Rows(info) => info,
    };
    out.format = Some(info.source_format.name());
    out.orientation = info.orientation.map(|o| o.tag());
    out.width = Some(info.width);
    out.height = Some(info.height);
    if let Some(done) = pdq.and_then(Pdq::finish) {
        if let Some(p) = done.plain {
            out.pdq_quality = Some(p.quality);
            out.hashes.insert(Algorithm::Pdq, HashValue::Pdq(p.hash));
        }
        if let Some(d) = done.dihedral {
            out.pdq_quality.get_or_insert(d.quality);
            out.hashes
                .insert(Algorithm::PdqDihedral, HashValue::PdqDihedral(d.hashes));
        }
    }
    let Some(grey) = grey else {
        return Ok(());
    };
    // The rest of the pixel algorithms read only Pillow's grey image, which the sink kept.
    let grey = grey.into_grey();
    let view = PixelView::packed(&grey, info.width, info.height, PixelFormat::Gray8)?;
    let rest = algorithms
        .without(Algorithm::Pdq)
        .without(Algorithm::PdqDihedral);
    hash_with(&view, &imagehash::ImageHasher::new(&view), rest, out)
}

/// Hashes pixels decoded elsewhere (e.g. by a browser, for formats this crate does not decode)
/// with every requested pixel algorithm, exactly as [`hash_image`] does; sets `width` and
/// `height`, leaves `format`, `orientation` and the digests to the caller.
pub fn hash_view(
    view: &PixelView<'_>,
    algorithms: AlgorithmSet,
    out: &mut FileHashes,
) -> Result<(), Error> {
    // The imagehash family shares one grey image.
    hash_with(view, &imagehash::ImageHasher::new(view), algorithms, out)
}

fn hash_with(
    view: &PixelView<'_>,
    family: &imagehash::ImageHasher<'_>,
    algorithms: AlgorithmSet,
    out: &mut FileHashes,
) -> Result<(), Error> {
    let view = *view;
    out.width = Some(view.width());
    out.height = Some(view.height());
    for a in algorithms.iter() {
        let value = match a {
            Algorithm::Pdq => {
                let pdq = pdq_hash(&view);
                out.pdq_quality = Some(pdq.quality);
                HashValue::Pdq(pdq.hash)
            }
            Algorithm::PdqDihedral => {
                let dihedral = pdq_dihedral(&view);
                out.pdq_quality.get_or_insert(dihedral.quality);
                HashValue::PdqDihedral(dihedral.hashes)
            }
            Algorithm::PdqTrimmed => {
                let trimmed = pdq_trimmed(&view);
                out.pdq_quality.get_or_insert(trimmed.quality);
                HashValue::Pdq(trimmed.hash)
            }
            Algorithm::PdqEmbedded => match pdq_embedded(&view) {
                Some(embedded) => {
                    out.pdq_quality.get_or_insert(embedded.quality);
                    HashValue::Pdq(embedded.hash)
                }
                // No picture found: no value (plain PDQ is another algorithm's).
                None => continue,
            },
            Algorithm::PdqCaptioned => match pdq_captioned(&view) {
                Some(captioned) => {
                    out.pdq_quality.get_or_insert(captioned.quality);
                    HashValue::Pdq(captioned.hash)
                }
                // No caption band: no value.
                None => continue,
            },
            Algorithm::PdqStraightened => match pdq_straightened(&view) {
                Some(straightened) => {
                    out.pdq_quality.get_or_insert(straightened.quality);
                    HashValue::Pdq(straightened.hash)
                }
                // No turn: no value.
                None => continue,
            },
            Algorithm::AHash => HashValue::Bits(family.average_hash(8)?.into()),
            Algorithm::DHash => HashValue::Bits(family.dhash(8)?.into()),
            Algorithm::DHashVertical => HashValue::Bits(family.dhash_vertical(8)?.into()),
            Algorithm::PHash => HashValue::Bits(family.phash(8)?.into()),
            Algorithm::PHashMirrored => HashValue::Bits(family.phash_mirrored().into()),
            Algorithm::PHash16 => HashValue::Bits(family.phash(16)?.into()),
            Algorithm::WHash => HashValue::Bits(family.whash(8)?.into()),
            // Not from pixels: the digests are of the bytes (`hash_digests`), vPDQ of frames.
            Algorithm::Md5 | Algorithm::Sha1 | Algorithm::Sha256 | Algorithm::Vpdq => continue,
        };
        out.hashes.insert(a, value);
    }
    Ok(())
}

/// Digests of the original bytes for the requested digest algorithms.
pub fn hash_digests(bytes: &[u8], algorithms: AlgorithmSet, out: &mut FileHashes) {
    for a in algorithms.iter() {
        if let Some(d) = digest(a, bytes) {
            out.hashes.insert(a, HashValue::Digest(d));
        }
    }
}

/// Decodes `bytes` once (only if a pixel algorithm is requested) and computes every requested
/// hash. Digest-only requests never decode, so they work for any file.
pub fn hash_bytes(bytes: &[u8], options: &HashOptions) -> Result<FileHashes, Error> {
    let mut out = FileHashes::default();
    if options.algorithms.contains(Algorithm::PdqTrimmed)
        || options.algorithms.contains(Algorithm::PdqEmbedded)
        || options.algorithms.contains(Algorithm::PdqCaptioned)
        || options.algorithms.contains(Algorithm::PdqStraightened)
    {
        // Trimming, finding an embedded picture, caption bands or a turn read the whole image
        // before the picture is hashed: the whole image is kept.
        hash_image(
            &decode(bytes, &options.decode)?,
            options.algorithms,
            &mut out,
        )?;
    } else if options.algorithms.any(Algorithm::needs_pixels) {
        // PDQ reads the RGB rows, the imagehash family Pillow's grey image of them: where the
        // decoder emits rows (JPEG), each goes to PDQ's streaming blur and to the grey image
        // while it is in cache, and no RGB image is kept.
        let uses_pdq = options.algorithms.any(|a| a.input() == Input::Rgb);
        let uses_grey = options.algorithms.any(|a| a.input() == Input::Grey);
        let pdq = uses_pdq.then(|| {
            Pdq::new(
                options.algorithms.contains(Algorithm::Pdq),
                options.algorithms.contains(Algorithm::PdqDihedral),
            )
        });
        let grey = uses_grey.then(Grey::default);
        let decode = |sink: &mut dyn RowSink| decode_rows(bytes, &options.decode, sink);
        let (decoded, pdq, grey) = match (pdq, grey) {
            (Some(pdq), Some(grey)) => {
                let mut both = Tee::new(pdq, grey);
                let decoded = decode(&mut both)?;
                (decoded, Some(both.first), Some(both.second))
            }
            (Some(mut pdq), None) => (decode(&mut pdq)?, Some(pdq), None),
            (None, Some(mut grey)) => (decode(&mut grey)?, None, Some(grey)),
            (None, None) => (
                decode(&mut crate::decode::sink::Pixels::default())?,
                None,
                None,
            ),
        };
        hash_decoded(decoded, pdq, grey, options.algorithms, &mut out)?;
    }
    hash_digests(bytes, options.algorithms, &mut out);
    Ok(out)
}
