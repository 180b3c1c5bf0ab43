//! The JavaScript binding: the only module that touches wasm-bindgen. It converts at
//! the edge and holds no logic of its own.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::{analysis, kernels, Model, Scheme};

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    v.serialize(&ser).map_err(|e| JsError::new(&e.to_string()))
}

fn scheme(s: &str) -> Result<Scheme, JsError> {
    s.parse::<Scheme>()
        .map_err(|e| JsError::new(&e.to_string()))
}

#[derive(Serialize)]
struct BuildInfo {
    version: &'static str,
    simd128: bool,
    kernels: &'static str,
}

/// Facts fixed when this module was compiled: `simd128` is true only in a build whose
/// kernels are the SIMD128 twins.
#[wasm_bindgen(js_name = buildInfo)]
pub fn build_info() -> Result<JsValue, JsError> {
    to_js(&BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        simd128: kernels::SIMD128,
        kernels: kernels::KERNELS,
    })
}

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

/// An opened model file.
#[wasm_bindgen(js_name = Model)]
pub struct WasmModel {
    model: Model,
}

#[wasm_bindgen(js_class = Model)]
impl WasmModel {
    /// Opens a model from the file's bytes; the name is for messages and .npy tensor names.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8], file_name: &str) -> Result<WasmModel, JsError> {
        let model = crate::open(bytes, file_name).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(WasmModel { model })
    }

    /// Format, tensor list and metadata (`ModelInfo`).
    pub fn info(&self) -> Result<JsValue, JsError> {
        to_js(&self.model.info())
    }

    /// Full report of one tensor under one scheme (`TensorReport`).
    pub fn analyze(&self, tensor: &str, scheme_str: &str, bins: u32) -> Result<JsValue, JsError> {
        let t = self
            .model
            .tensor(tensor)
            .map_err(|e| JsError::new(&e.to_string()))?;
        let r = analysis::analyze(t, &scheme(scheme_str)?, bins as usize)
            .map_err(|e| JsError::new(&e.to_string()))?;
        to_js(&r)
    }

    /// Metrics only (`TensorSummary`), for the whole-model table.
    pub fn summarize(&self, tensor: &str, scheme_str: &str) -> Result<JsValue, JsError> {
        let t = self
            .model
            .tensor(tensor)
            .map_err(|e| JsError::new(&e.to_string()))?;
        let r = analysis::summarize(t, &scheme(scheme_str)?)
            .map_err(|e| JsError::new(&e.to_string()))?;
        to_js(&r)
    }
}

/// Benchmark hook (scripts/bench/ggml.mjs): a tensor copied into wasm memory once, so
/// that timing `quantize` measures the quantizer, not the copy from JavaScript.
#[wasm_bindgen(js_name = GgmlBench)]
pub struct GgmlBench {
    data: Vec<f32>,
    out: Vec<u8>,
}

#[wasm_bindgen(js_class = GgmlBench)]
impl GgmlBench {
    #[wasm_bindgen(constructor)]
    pub fn new(data: &[f32]) -> GgmlBench {
        GgmlBench {
            data: data.to_vec(),
            out: Vec::new(),
        }
    }

    /// Quantizes the held values to a ggml type (`q8_0`, `q4_0`, ...) into a buffer
    /// kept between calls; returns the number of packed bytes.
    pub fn quantize(&mut self, ty: &str) -> Result<usize, JsError> {
        let t = crate::quant::GgmlType::from_name(ty)
            .ok_or_else(|| JsError::new(&format!("unknown ggml type `{ty}`")))?;
        let n = t
            .bytes_for(self.data.len())
            .map_err(|e| JsError::new(&e.to_string()))?;
        self.out.resize(n, 0);
        crate::quant::ggml::quantize_to(t, &self.data, &mut self.out)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(n)
    }
}

/// A tensor held inside wasm memory for benchmarks: the f32 data crosses from JavaScript
/// once, so timing `quantize` measures quantization alone (copying 64 MiB in costs about
/// as much as one quantize pass).
#[wasm_bindgen(js_name = BenchTensor)]
pub struct BenchTensor {
    tensor: crate::Tensor,
}

#[wasm_bindgen(js_class = BenchTensor)]
impl BenchTensor {
    /// `data` in C order with shape `rows x cols`.
    #[wasm_bindgen(constructor)]
    pub fn new(data: &[f32], rows: u32, cols: u32) -> Result<BenchTensor, JsError> {
        if data.len() as u64 != rows as u64 * cols as u64 {
            return Err(JsError::new(&format!(
                "{} values do not fill a {rows} x {cols} tensor",
                data.len()
            )));
        }
        Ok(BenchTensor {
            tensor: crate::Tensor {
                name: "bench".into(),
                shape: vec![rows as usize, cols as usize],
                dtype: crate::DType::F32,
                data: data.to_vec(),
            },
        })
    }

    /// Quantizes (codes and parameters only: no dequantization, no metrics) and returns
    /// the packed size in bytes, so the work cannot be optimised away.
    pub fn quantize(&self, scheme_str: &str) -> Result<u32, JsError> {
        let e = scheme(scheme_str)?
            .encode(&self.tensor)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(e.packed_bytes() as u32)
    }
}
