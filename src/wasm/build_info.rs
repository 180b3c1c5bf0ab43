//! `buildInfo`: facts fixed when this module was compiled (src/build.rs).

use wasm_bindgen::prelude::*;

use super::to_js;

/// Facts fixed when this module was compiled (`BuildInfo`): `simd128` is true only in a
/// build whose kernels are the SIMD128 twins.
#[wasm_bindgen(js_name = buildInfo)]
pub fn build_info() -> Result<JsValue, JsError> {
    to_js(&crate::build::info())
}
