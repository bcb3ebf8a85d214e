//! wasm-bindgen adapters: JS arguments in, core call, JS values out. No pixel logic here.
//! Every error becomes a JS exception carrying the core's message (and, for file hashing, its
//! stable `code`); nothing the input controls panics.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::decode::{AlphaPolicy, DecodeOptions, OrientationPolicy};
use crate::pipeline::{hash_bytes, hash_view, AlgorithmSet, FileHashes, HashOptions};
use crate::pixels::{PixelFormat, PixelView};

fn rgba_view(data: &[u8], width: u32, height: u32) -> Result<PixelView<'_>, JsError> {
    PixelView::packed(data, width, height, PixelFormat::Rgba8)
        .map_err(|e| JsError::new(&e.to_string()))
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
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
    algorithms: Option<Algorithms>,
    /// `"ignore"` (default) or `"apply"`.
    orientation: Option<String>,
    /// `"ignore"` (default), `"white"` or `"black"`.
    alpha: Option<String>,
    max_pixels: Option<f64>,
    max_input_bytes: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Algorithms {
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
        Some(Algorithms::Text(list)) => AlgorithmSet::parse(&list),
        Some(Algorithms::List(names)) => AlgorithmSet::parse(&names.join(",")),
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
        let list: Algorithms = serde_wasm_bindgen::from_value(algorithms)
            .map_err(|e| js_error("invalid_option", &e.to_string()))?;
        match list {
            Algorithms::Text(list) => AlgorithmSet::parse(&list),
            Algorithms::List(names) => AlgorithmSet::parse(&names.join(",")),
        }
        .map_err(|e| js_error(e.code(), &e.to_string()))?
    };
    let view = PixelView::packed(data, width, height, PixelFormat::Rgba8)
        .map_err(|e| js_error(e.code(), &e.to_string()))?;
    let mut out = FileHashes::default();
    hash_view(&view, set, &mut out).map_err(|e| js_error(e.code(), &e.to_string()))?;
    to_js(&out).map_err(JsValue::from)
}
