//! The writers on `Model` (src/export/): the model quantized with a scheme, as a file.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::model::WasmModel;
use super::{js_err, scheme, to_js};

#[wasm_bindgen(js_class = Model)]
impl WasmModel {
    /// The model quantized with a scheme, as a file: `format` is `onnx`, `gguf` or
    /// `safetensors`. Returns `{ bytes: Uint8Array, report: ExportReport }`. The ONNX
    /// writer rewrites the original model: pass the .onnx file's bytes as `source` and,
    /// for a model that keeps tensors in external data files, those files as
    /// `external`, an array of `{ name, bytes }` (the other formats ignore both).
    pub fn export(
        &self,
        format: &str,
        scheme_str: &str,
        source: Option<Box<[u8]>>,
        external: Option<js_sys::Array>,
    ) -> Result<JsValue, JsError> {
        let format = crate::export::ExportFormat::parse(format).map_err(js_err)?;
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for f in external.iter().flat_map(|a| a.iter()) {
            let get = |k: &str| {
                js_sys::Reflect::get(&f, &JsValue::from_str(k))
                    .map_err(|_| JsError::new(&format!("external file entry has no `{k}`")))
            };
            let name = get("name")?
                .as_string()
                .ok_or_else(|| JsError::new("external file entry: `name` is not a string"))?;
            let bytes = get("bytes")?
                .dyn_into::<js_sys::Uint8Array>()
                .map_err(|_| JsError::new(&format!("{name}: `bytes` is not a Uint8Array")))?;
            files.push((name, bytes.to_vec()));
        }
        let named: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let onnx = source.as_deref().map(|model| crate::export::OnnxSource {
            model,
            external: &named,
        });
        let e = crate::export::export(&self.model, format, &scheme(scheme_str)?, onnx)
            .map_err(js_err)?;
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
