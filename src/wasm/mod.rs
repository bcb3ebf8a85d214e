//! wasm-bindgen adapters: JS arguments in, core call, JS values out. No pixel logic here.
//! Every error becomes a JS exception carrying the core's message; nothing panics on input.

use serde::Serialize;
use wasm_bindgen::prelude::*;

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
