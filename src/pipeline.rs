//! From file bytes to every requested hash in one call: decode once, then PDQ, the imagehash
//! family and the digests of the original bytes.
//!
//! The CLI, the server and the wasm package all call [`hash_bytes`], so they give identical
//! results for the same file and options. [`FileHashes`] serialises to the documented JSON
//! (snake_case keys, only the requested ones).

use serde::Serialize;

use crate::decode::sink::{Grey, Pdq, RowSink, Tee};
use crate::decode::{decode_rows, DecodeOptions, Decoded, DecodedImage};
use crate::digest::{md5_hex, sha1_hex, sha256_hex};
use crate::error::{CallerError, Error};
use crate::hash::{
    AverageHash, DifferenceHash, DifferenceVerticalHash, PdqHash, PerceptualHash, WaveletHash,
};
use crate::imagehash;
use crate::pdq::{pdq_dihedral, pdq_hash, PdqOutput};
use crate::pixels::{PixelFormat, PixelView};

/// Everything [`hash_bytes`] can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    Pdq,
    PdqDihedral,
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

impl HashAlgorithm {
    /// Every algorithm, in output order.
    pub const ALL: [HashAlgorithm; 11] = [
        HashAlgorithm::Pdq,
        HashAlgorithm::PdqDihedral,
        HashAlgorithm::AHash,
        HashAlgorithm::DHash,
        HashAlgorithm::DHashVertical,
        HashAlgorithm::PHash,
        HashAlgorithm::PHash16,
        HashAlgorithm::WHash,
        HashAlgorithm::Md5,
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha256,
    ];

    /// The default set: `pdq,ahash,dhash,phash,md5,sha256`.
    pub const DEFAULT: [HashAlgorithm; 6] = [
        HashAlgorithm::Pdq,
        HashAlgorithm::AHash,
        HashAlgorithm::DHash,
        HashAlgorithm::PHash,
        HashAlgorithm::Md5,
        HashAlgorithm::Sha256,
    ];

    /// The name used on the command line and in the JS API (`pdq-dihedral`, `dhash-vertical`).
    pub const fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Pdq => "pdq",
            HashAlgorithm::PdqDihedral => "pdq-dihedral",
            HashAlgorithm::AHash => "ahash",
            HashAlgorithm::DHash => "dhash",
            HashAlgorithm::DHashVertical => "dhash-vertical",
            HashAlgorithm::PHash => "phash",
            HashAlgorithm::PHash16 => "phash16",
            HashAlgorithm::WHash => "whash",
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Sha256 => "sha256",
        }
    }

    /// The JSON key of its result (`pdq_dihedral`, `dhash_vertical`, else the name).
    pub const fn key(self) -> &'static str {
        match self {
            HashAlgorithm::PdqDihedral => "pdq_dihedral",
            HashAlgorithm::DHashVertical => "dhash_vertical",
            other => other.name(),
        }
    }

    /// Parses a name or a JSON key (`pdq_dihedral` and `pdq-dihedral` both work).
    pub fn from_name(name: &str) -> Option<HashAlgorithm> {
        let name = name.trim().to_ascii_lowercase().replace('_', "-");
        HashAlgorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The distance at or below which two hashes count as a match: PDQ 31 bits of 256 (the
    /// ecosystem's convention), pHash16 40 of 256, the 64-bit imagehash hashes 10 of 64 (about
    /// the same share), digests only when equal (`None`). Lists may call for their own.
    pub const fn match_threshold(self) -> Option<u32> {
        match self {
            HashAlgorithm::Pdq | HashAlgorithm::PdqDihedral => {
                Some(crate::pdq::PDQ_MATCH_THRESHOLD_BITS)
            }
            HashAlgorithm::PHash16 => Some(40),
            HashAlgorithm::AHash
            | HashAlgorithm::DHash
            | HashAlgorithm::DHashVertical
            | HashAlgorithm::PHash
            | HashAlgorithm::WHash => Some(10),
            HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::Sha256 => None,
        }
    }

    /// Whether it needs decoded pixels (the digests hash the bytes as they are).
    pub const fn needs_pixels(self) -> bool {
        !matches!(
            self,
            HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::Sha256
        )
    }
}

/// A set of algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlgorithmSet(u16);

impl AlgorithmSet {
    /// The empty set.
    pub const fn empty() -> Self {
        AlgorithmSet(0)
    }

    /// Whether `a` is in the set.
    pub const fn contains(self, a: HashAlgorithm) -> bool {
        self.0 & (1 << a as u16) != 0
    }

    /// The set with `a` added.
    pub const fn with(self, a: HashAlgorithm) -> Self {
        AlgorithmSet(self.0 | (1 << a as u16))
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in output order.
    pub fn iter(self) -> impl Iterator<Item = HashAlgorithm> {
        HashAlgorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }

    /// Parses a comma-separated list such as `pdq,phash,md5`; an unknown name is an error that
    /// names it and lists the known ones.
    pub fn parse(list: &str) -> Result<Self, CallerError> {
        let mut set = AlgorithmSet::empty();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let a =
                HashAlgorithm::from_name(name).ok_or_else(|| CallerError::UnknownAlgorithm {
                    found: name.chars().take(64).collect(),
                })?;
            set = set.with(a);
        }
        if set.is_empty() {
            return Err(CallerError::UnknownAlgorithm {
                found: list.chars().take(64).collect(),
            });
        }
        Ok(set)
    }
}

impl Default for AlgorithmSet {
    fn default() -> Self {
        HashAlgorithm::DEFAULT
            .into_iter()
            .fold(AlgorithmSet::empty(), AlgorithmSet::with)
    }
}

impl FromIterator<HashAlgorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = HashAlgorithm>>(iter: I) -> Self {
        iter.into_iter()
            .fold(AlgorithmSet::empty(), AlgorithmSet::with)
    }
}

/// What to compute and how to decode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashOptions {
    pub algorithms: AlgorithmSet,
    pub decode: DecodeOptions,
}

/// The results for one file; only the requested fields are set. Serialises to the documented
/// JSON object (without `path`, which the caller knows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileHashes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// The EXIF orientation tag (1-8) when present; reported, not part of the hashes' JSON.
    #[serde(skip)]
    pub orientation: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdq: Option<PdqOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdq_dihedral: Option<[PdqHash; 8]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ahash: Option<AverageHash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhash: Option<DifferenceHash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhash_vertical: Option<DifferenceVerticalHash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phash: Option<PerceptualHash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phash16: Option<PerceptualHash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whash: Option<WaveletHash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl FileHashes {
    /// The result for one algorithm as hex (the eight dihedral hashes joined by `:`).
    pub fn hex(&self, a: HashAlgorithm) -> Option<String> {
        match a {
            HashAlgorithm::Pdq => self.pdq.map(|p| p.hash.to_hex()),
            HashAlgorithm::PdqDihedral => self
                .pdq_dihedral
                .map(|d| d.iter().map(PdqHash::to_hex).collect::<Vec<_>>().join(":")),
            HashAlgorithm::AHash => self.ahash.map(|h| h.to_hex()),
            HashAlgorithm::DHash => self.dhash.map(|h| h.to_hex()),
            HashAlgorithm::DHashVertical => self.dhash_vertical.map(|h| h.to_hex()),
            HashAlgorithm::PHash => self.phash.map(|h| h.to_hex()),
            HashAlgorithm::PHash16 => self.phash16.map(|h| h.to_hex()),
            HashAlgorithm::WHash => self.whash.map(|h| h.to_hex()),
            HashAlgorithm::Md5 => self.md5.clone(),
            HashAlgorithm::Sha1 => self.sha1.clone(),
            HashAlgorithm::Sha256 => self.sha256.clone(),
        }
    }
}

/// Hamming distance between two hex strings of equal length, or `None` if they differ in
/// length or are not hex.
pub fn hex_distance(a: &str, b: &str) -> Option<u32> {
    if a.len() != b.len() {
        return None;
    }
    a.chars().zip(b.chars()).try_fold(0u32, |d, (x, y)| {
        Some(d + (x.to_digit(16)? ^ y.to_digit(16)?).count_ones())
    })
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
        out.pdq = done.plain;
        out.pdq_dihedral = done.dihedral.map(|d| d.hashes);
    }
    let Some(grey) = grey else {
        return Ok(());
    };
    // The rest of the pixel algorithms read only Pillow's grey image, which the sink kept.
    let grey = grey.into_grey();
    let view = PixelView::packed(&grey, info.width, info.height, PixelFormat::Gray8)?;
    let rest = algorithms
        .iter()
        .filter(|a| !matches!(a, HashAlgorithm::Pdq | HashAlgorithm::PdqDihedral))
        .collect();
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
        match a {
            HashAlgorithm::Pdq => out.pdq = Some(pdq_hash(&view)),
            HashAlgorithm::PdqDihedral => out.pdq_dihedral = Some(pdq_dihedral(&view).hashes),
            HashAlgorithm::AHash => out.ahash = Some(family.average_hash(8)?),
            HashAlgorithm::DHash => out.dhash = Some(family.dhash(8)?),
            HashAlgorithm::DHashVertical => out.dhash_vertical = Some(family.dhash_vertical(8)?),
            HashAlgorithm::PHash => out.phash = Some(family.phash(8)?),
            HashAlgorithm::PHash16 => out.phash16 = Some(family.phash(16)?),
            HashAlgorithm::WHash => out.whash = Some(family.whash(8)?),
            HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::Sha256 => {}
        }
    }
    Ok(())
}

/// Digests of the original bytes for the requested digest algorithms.
pub fn hash_digests(bytes: &[u8], algorithms: AlgorithmSet, out: &mut FileHashes) {
    if algorithms.contains(HashAlgorithm::Md5) {
        out.md5 = Some(md5_hex(bytes));
    }
    if algorithms.contains(HashAlgorithm::Sha1) {
        out.sha1 = Some(sha1_hex(bytes));
    }
    if algorithms.contains(HashAlgorithm::Sha256) {
        out.sha256 = Some(sha256_hex(bytes));
    }
}

/// Decodes `bytes` once (only if a pixel algorithm is requested) and computes every requested
/// hash. Digest-only requests never decode, so they work for any file.
pub fn hash_bytes(bytes: &[u8], options: &HashOptions) -> Result<FileHashes, Error> {
    let mut out = FileHashes::default();
    if options.algorithms.iter().any(HashAlgorithm::needs_pixels) {
        // PDQ reads the RGB rows, the imagehash family Pillow's grey image of them: where the
        // decoder emits rows (JPEG), each goes to PDQ's streaming blur and to the grey image
        // while it is in cache, and no RGB image is kept.
        let pdq = [HashAlgorithm::Pdq, HashAlgorithm::PdqDihedral];
        let uses_pdq = pdq.into_iter().any(|a| options.algorithms.contains(a));
        let uses_grey = options
            .algorithms
            .iter()
            .any(|a| a.needs_pixels() && !pdq.contains(&a));
        let pdq = uses_pdq.then(|| {
            Pdq::new(
                options.algorithms.contains(HashAlgorithm::Pdq),
                options.algorithms.contains(HashAlgorithm::PdqDihedral),
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
