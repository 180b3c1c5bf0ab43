//! The scheme grammar, as the core parses and prints it.

use wasm_bindgen::prelude::*;

use super::{js_err, scheme, to_js};
use crate::quant::form;
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

/// Every scheme family with its options, choices and defaults (`SchemeFamily[]`), for
/// the page's picker.
#[wasm_bindgen(js_name = schemeFamilies)]
pub fn scheme_families() -> Result<JsValue, JsError> {
    to_js(&form::families())
}

/// The family and option values of a scheme string (`SchemeForm`), or an error naming
/// what is wrong with the string.
#[wasm_bindgen(js_name = schemeForm)]
pub fn scheme_form(s: &str) -> Result<JsValue, JsError> {
    to_js(&form::to_form(&scheme(s)?))
}

/// The string a form (`{ family, params }`) makes (`FormString`): `{ text, scheme }`
/// when the grammar takes it, `{ text, error }` with the parser's message when not;
/// throws only for a form that is not one (an unknown family, a value of the wrong kind).
#[wasm_bindgen(js_name = schemeFromForm)]
pub fn scheme_from_form(form: JsValue) -> Result<JsValue, JsError> {
    let form: form::Form =
        serde_wasm_bindgen::from_value(form).map_err(|e| JsError::new(&e.to_string()))?;
    to_js(&form::answer(&form).map_err(js_err)?)
}

/// Canonical strings across every family and option (what the page's round-trip test
/// feeds the picker).
#[wasm_bindgen(js_name = schemeExamples)]
pub fn scheme_examples() -> Vec<String> {
    form::examples()
}
