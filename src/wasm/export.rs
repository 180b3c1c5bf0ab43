//! The writers on `Model` (src/export/): the model quantized with a scheme, as a file.

use wasm_bindgen::prelude::*;

use super::model::WasmModel;
use super::{js_err, scheme, to_js};

#[wasm_bindgen(js_class = Model)]
impl WasmModel {
    /// The model quantized with a scheme, as a file: `format` is `onnx`, `gguf` or
    /// `safetensors`. Returns `{ bytes: Uint8Array, report: ExportReport }`. The ONNX
    /// writer rewrites the ONNX files the model was opened from.
    pub fn export(&self, format: &str, scheme_str: &str) -> Result<JsValue, JsError> {
        let format = crate::export::ExportFormat::parse(format).map_err(js_err)?;
        let scheme = scheme(scheme_str)?;
        let budget = crate::budget::Budget::wasm32(self.model.resident_bytes(""));
        crate::export::check_budget(
            &self.model,
            format,
            crate::export::policy::Assign::All(&scheme),
            &budget,
            false,
        )
        .map_err(js_err)?;
        let e = crate::export::export(&self.model, format, &scheme).map_err(js_err)?;
        let out = js_sys::Object::new();
        let bytes = js_sys::Uint8Array::from(e.bytes.as_slice());
        let set = |k: &str, v: &JsValue| {
            js_sys::Reflect::set(&out, &JsValue::from_str(k), v)
                .map(|_| ())
                .map_err(|_| JsError::new("could not build the export result"))
        };
        set("bytes", &bytes)?;
        set("report", &to_js(&e.report)?)?;
        Ok(out.into())
    }
}
