//! The scheme grammar, as the core parses and prints it.

use wasm_bindgen::prelude::*;

use super::scheme;
use crate::Scheme;

/// Canonical string of a scheme, or an error naming what is wrong with it.
#[wasm_bindgen(js_name = parseScheme)]
pub fn parse_scheme(s: &str) -> Result<String, JsError> {
    Ok(scheme(s)?.to_string())
}

/// The schemes offered first, as canonical strings.
#[wasm_bindgen(js_name = schemePresets)]
pub fn scheme_presets() -> Vec<String> {
    Scheme::presets().iter().map(Scheme::to_string).collect()
}
