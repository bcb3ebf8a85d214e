//! wasm-bindgen adapters: JS arguments in, core call, JS values out. No pixel logic here.
//! Every error becomes a JS exception carrying the core's message (and, for file hashing, its
//! stable `code`); nothing the input controls panics.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::decode::{AlphaPolicy, DecodeOptions, OrientationPolicy};
use crate::digest::DigestStream;
use crate::pipeline::{hash_bytes, hash_view, AlgorithmSet, FileHashes, HashOptions};
use crate::pixels::{PixelFormat, PixelView};
use crate::video::{ChromaLayout, VpdqHasher, YuvMatrix, YuvToRgb};

fn rgba_view(data: &[u8], width: u32, height: u32) -> Result<PixelView<'_>, JsError> {
    PixelView::packed(data, width, height, PixelFormat::Rgba8)
        .map_err(|e| JsError::new(&e.to_string()))
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// The algorithm registry, one object per algorithm in output order: `{name, key, aliases,
/// bits, family, input, defaultThreshold, fpRatePerPair: {falsePairs, pairs, upperBound} | null,
/// matchedByDefault, default, listable}`. The package's JS algorithm lists
/// and its `.d.ts` union are generated from it (`www/tools/gen-algorithms.mjs`).
#[wasm_bindgen(js_name = algorithmTable)]
pub fn algorithm_table() -> Result<JsValue, JsError> {
    to_js(&crate::algorithm::TABLE)
}

/// PDQ of tightly packed RGBA pixels (e.g. `ImageData.data`): `{hash, quality}`.
#[wasm_bindgen(js_name = pdqFromRgba)]
pub fn pdq_from_rgba(data: &[u8], width: u32, height: u32) -> Result<JsValue, JsError> {
    to_js(&crate::pdq_hash(&rgba_view(data, width, height)?))
}

/// The eight dihedral PDQ hashes of tightly packed RGBA pixels: `{hashes: [8 hex], quality}`,
/// in the order orig, rot90, rot180, rot270, flipx, flipy, flipplus1, flipminus1.
#[wasm_bindgen(js_name = pdqDihedralFromRgba)]
pub fn pdq_dihedral_from_rgba(data: &[u8], width: u32, height: u32) -> Result<JsValue, JsError> {
    to_js(&crate::pdq_dihedral(&rgba_view(data, width, height)?))
}

/// Options of [`hash_bytes_js`], as a JS object; every field optional, unknown fields refused.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
struct JsHashOptions {
    /// Names as on the command line, as an array or a comma-separated string.
    algorithms: Option<NameList>,
    /// `"ignore"` (default) or `"apply"`.
    orientation: Option<String>,
    /// `"ignore"` (default), `"white"` or `"black"`.
    alpha: Option<String>,
    max_pixels: Option<f64>,
    max_input_bytes: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NameList {
    List(Vec<String>),
    Text(String),
}

fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

fn limit(value: Option<f64>, default: u64, name: &str) -> Result<u64, JsValue> {
    match value {
        None => Ok(default),
        Some(v) if v.is_finite() && v >= 1.0 && v <= 9.0e15 => Ok(v as u64),
        Some(v) => Err(js_error(
            "invalid_option",
            &format!("{name} must be a positive number, found {v}"),
        )),
    }
}

fn parse_options(options: JsValue) -> Result<HashOptions, JsValue> {
    let o: JsHashOptions = if options.is_undefined() || options.is_null() {
        JsHashOptions::default()
    } else {
        // serde-wasm-bindgen reads only the fields it knows, so unknown keys (likely typos)
        // are refused here.
        const KNOWN: [&str; 5] = [
            "algorithms",
            "orientation",
            "alpha",
            "maxPixels",
            "maxInputBytes",
        ];
        if let Some(object) = options.dyn_ref::<js_sys::Object>() {
            for key in js_sys::Object::keys(object)
                .iter()
                .filter_map(|k| k.as_string())
            {
                if !KNOWN.contains(&key.as_str()) {
                    return Err(js_error(
                        "invalid_option",
                        &format!(
                            "unknown option {key:?}: expected one of {}",
                            KNOWN.join(", ")
                        ),
                    ));
                }
            }
        }
        serde_wasm_bindgen::from_value(options)
            .map_err(|e| js_error("invalid_option", &e.to_string()))?
    };
    let algorithms = match o.algorithms {
        None => Ok(AlgorithmSet::default()),
        Some(NameList::Text(list)) => AlgorithmSet::parse(&list),
        Some(NameList::List(names)) => AlgorithmSet::parse(&names.join(",")),
    }
    .map_err(|e| js_error(e.code(), &e.to_string()))?;
    let orientation = match o.orientation.as_deref() {
        None | Some("ignore") => OrientationPolicy::Ignore,
        Some("apply") => OrientationPolicy::Apply,
        Some(other) => {
            return Err(js_error(
                "invalid_option",
                &format!("orientation must be \"ignore\" or \"apply\", found {other:?}"),
            ))
        }
    };
    let alpha = match o.alpha.as_deref() {
        None | Some("ignore") => AlphaPolicy::Ignore,
        Some("white") => AlphaPolicy::OverWhite,
        Some("black") => AlphaPolicy::OverBlack,
        Some(other) => {
            return Err(js_error(
                "invalid_option",
                &format!("alpha must be \"ignore\", \"white\" or \"black\", found {other:?}"),
            ))
        }
    };
    let defaults = DecodeOptions::default();
    Ok(HashOptions {
        algorithms,
        decode: DecodeOptions {
            orientation,
            alpha,
            max_pixels: limit(o.max_pixels, defaults.max_pixels, "maxPixels")?,
            max_input_bytes: limit(o.max_input_bytes, defaults.max_input_bytes, "maxInputBytes")?,
        },
    })
}

/// Every requested hash of an image file's bytes, decoded here: the same object the CLI
/// prints for the file (without `path`), plus `orientation` (the EXIF tag, when present).
/// Errors are JS `Error`s with a stable `code` (`unsupported_format`, `too_many_pixels`, ...).
#[wasm_bindgen(js_name = hashBytes)]
pub fn hash_bytes_js(bytes: &[u8], options: JsValue) -> Result<JsValue, JsValue> {
    let options = parse_options(options)?;
    let hashes = hash_bytes(bytes, &options).map_err(|e| js_error(e.code(), &e.to_string()))?;
    let value = to_js(&hashes).map_err(JsValue::from)?;
    if let Some(tag) = hashes.orientation {
        let _ = js_sys::Reflect::set(&value, &"orientation".into(), &tag.into());
    }
    Ok(value)
}

/// Every requested pixel hash of tightly packed RGBA pixels decoded elsewhere (the npm
/// package's fallback for formats only the browser decodes): the same keys and values as
/// [`hash_bytes_js`] gives for those pixels, with `width` and `height`; digest names in
/// `algorithms` are skipped (digests are of the file's bytes: use `hashBytes` for them).
#[wasm_bindgen(js_name = hashRgba)]
pub fn hash_rgba_js(
    data: &[u8],
    width: u32,
    height: u32,
    algorithms: JsValue,
) -> Result<JsValue, JsValue> {
    let set = if algorithms.is_undefined() || algorithms.is_null() {
        AlgorithmSet::default()
    } else {
        let list: NameList = serde_wasm_bindgen::from_value(algorithms)
            .map_err(|e| js_error("invalid_option", &e.to_string()))?;
        match list {
            NameList::Text(list) => AlgorithmSet::parse(&list),
            NameList::List(names) => AlgorithmSet::parse(&names.join(",")),
        }
        .map_err(|e| js_error(e.code(), &e.to_string()))?
    };
    let view = PixelView::packed(data, width, height, PixelFormat::Rgba8)
        .map_err(|e| js_error(e.code(), &e.to_string()))?;
    let mut out = FileHashes::default();
    hash_view(&view, set, &mut out).map_err(|e| js_error(e.code(), &e.to_string()))?;
    to_js(&out).map_err(JsValue::from)
}

/// The MD5, SHA-1 and SHA-256 of input given in pieces (a video read in chunks), in constant
/// memory: `update(bytes)` any number of times, then `finish()` once for `{md5, sha1, sha256}`.
#[wasm_bindgen(js_name = DigestStream)]
#[derive(Default)]
pub struct JsDigestStream {
    inner: DigestStream,
}

#[derive(Serialize)]
struct DigestsJs {
    md5: String,
    sha1: String,
    sha256: String,
}

#[wasm_bindgen(js_class = DigestStream)]
impl JsDigestStream {
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsDigestStream {
        JsDigestStream::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
    }

    /// The digests of everything given to `update`; the object is consumed (freed).
    pub fn finish(self) -> Result<JsValue, JsError> {
        let d = self.inner.finish();
        to_js(&DigestsJs {
            md5: d.md5,
            sha1: d.sha1,
            sha256: d.sha256,
        })
    }
}

/// A frame number from JS: an integer in 0..=2^53.
fn frame_number(value: f64) -> Result<u64, JsValue> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= 9_007_199_254_740_992.0
    {
        Ok(value as u64)
    } else {
        Err(js_error(
            "invalid_argument",
            &format!("frame number must be a non-negative integer, found {value}"),
        ))
    }
}

/// vPDQ of a video decoded elsewhere (the npm package decodes it with WebCodecs): the core's
/// [`VpdqHasher`], fed the decoded frames in order; only the frames it `wants` need pixels.
#[wasm_bindgen(js_name = VpdqHasher)]
pub struct JsVpdqHasher {
    inner: VpdqHasher,
    /// The YUV conversion of the last `pushYuv` call and its RGB buffer, reused frame to frame.
    converter: Option<(YuvMatrix, bool, YuvToRgb)>,
    rgb: Vec<u8>,
}

#[wasm_bindgen(js_class = VpdqHasher)]
impl JsVpdqHasher {
    /// A hasher for a video of `frameRate` frames per second, one hashed frame every
    /// `secondsPerHash` seconds (0: every frame). Errors: `invalid_frame_rate`,
    /// `invalid_seconds_per_hash`.
    #[wasm_bindgen(constructor)]
    pub fn new(frame_rate: f64, seconds_per_hash: f64) -> Result<JsVpdqHasher, JsValue> {
        VpdqHasher::new(frame_rate, seconds_per_hash)
            .map(|inner| JsVpdqHasher {
                inner,
                converter: None,
                rgb: Vec::new(),
            })
            .map_err(|e| js_error(e.code(), &e.to_string()))
    }

    /// The step between hashed frames (`int(secondsPerHash * frameRate)`, at least 1), as a
    /// number (saturated at 2^53).
    #[wasm_bindgen(getter, js_name = frameMod)]
    pub fn frame_mod(&self) -> f64 {
        self.inner.selection().frame_mod().min(1 << 53) as f64
    }

    /// Whether frame `frameNumber` (0-based, counting every decoded frame) is hashed.
    pub fn wants(&self, frame_number: f64) -> bool {
        self.inner.selection().selects(frame_number as u64)
    }

    /// Hashes frame `frameNumber` from tightly packed RGBA pixels if it is selected:
    /// `{frame, timestamp, hash, quality}` as the CLI prints it, else `undefined`. Frame numbers
    /// must increase from call to call (frames that are not wanted may be skipped).
    #[wasm_bindgen(js_name = pushRgba)]
    pub fn push_rgba(
        &mut self,
        frame_number_js: f64,
        data: &[u8],
        width: u32,
        height: u32,
    ) -> Result<JsValue, JsValue> {
        let n = frame_number(frame_number_js)?;
        let view = PixelView::packed(data, width, height, PixelFormat::Rgba8)
            .map_err(|e| js_error(e.code(), &e.to_string()))?;
        feature_js(self.inner.push(n, &view))
    }

    /// As `pushRgba`, from the frame's decoded YUV planes, tightly packed as `layout` (`"I420"`,
    /// `"I422"` or `"NV12"`), converted to RGB as libswscale converts them for the CLI (so the
    /// hashes equal the CLI's for the same decoded frame): `matrix` `"bt601"`, `"bt709"`,
    /// `"fcc"`, `"smpte240m"` or `"bt2020"`, limited or `fullRange`.
    #[wasm_bindgen(js_name = pushYuv)]
    #[allow(clippy::too_many_arguments)]
    pub fn push_yuv(
        &mut self,
        frame_number_js: f64,
        data: &[u8],
        layout: &str,
        width: u32,
        height: u32,
        matrix: &str,
        full_range: bool,
    ) -> Result<JsValue, JsValue> {
        let n = frame_number(frame_number_js)?;
        let (layout, matrix) = (chroma_layout(layout)?, yuv_matrix(matrix)?);
        if !self.inner.wants(n) {
            return Ok(JsValue::UNDEFINED);
        }
        let converter = match self.converter.take() {
            Some(c) if c.0 == matrix && c.1 == full_range => c,
            _ => (matrix, full_range, YuvToRgb::new(matrix, full_range)),
        };
        let converted = converter
            .2
            .convert(data, layout, width, height, &mut self.rgb);
        self.converter = Some(converter);
        converted.map_err(|e| js_error(e.code(), &e.to_string()))?;
        let view = PixelView::packed(&self.rgb, width, height, PixelFormat::Rgb8)
            .map_err(|e| js_error(e.code(), &e.to_string()))?;
        feature_js(self.inner.push(n, &view))
    }
}

fn chroma_layout(name: &str) -> Result<ChromaLayout, JsValue> {
    match name {
        "I420" => Ok(ChromaLayout::I420),
        "I422" => Ok(ChromaLayout::I422),
        "NV12" => Ok(ChromaLayout::Nv12),
        other => Err(js_error(
            "invalid_argument",
            &format!("layout must be I420, I422 or NV12, found {other:?}"),
        )),
    }
}

fn yuv_matrix(name: &str) -> Result<YuvMatrix, JsValue> {
    match name {
        "bt601" => Ok(YuvMatrix::Bt601),
        "bt709" => Ok(YuvMatrix::Bt709),
        "fcc" => Ok(YuvMatrix::Fcc),
        "smpte240m" => Ok(YuvMatrix::Smpte240m),
        "bt2020" => Ok(YuvMatrix::Bt2020),
        other => Err(js_error(
            "invalid_argument",
            &format!("matrix must be bt601, bt709, fcc, smpte240m or bt2020, found {other:?}"),
        )),
    }
}

fn feature_js(
    pushed: Result<Option<crate::video::VpdqFeature>, crate::video::VideoError>,
) -> Result<JsValue, JsValue> {
    match pushed.map_err(|e| js_error(e.code(), &e.to_string()))? {
        Some(feature) => to_js(&feature).map_err(JsValue::from),
        None => Ok(JsValue::UNDEFINED),
    }
}
