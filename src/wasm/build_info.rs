//! `buildInfo`: facts fixed when this module was compiled.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::to_js;
use crate::kernels;

#[derive(Serialize)]
struct BuildInfo {
    version: &'static str,
    simd128: bool,
    relaxed_simd: bool,
    kernels: &'static str,
    /// True in the benchmark build (`bench-hooks`), which exports the kernel entry points.
    bench_hooks: bool,
}

/// Facts fixed when this module was compiled: `simd128` is true only in a build whose
/// kernels are the SIMD128 twins.
#[wasm_bindgen(js_name = buildInfo)]
pub fn build_info() -> Result<JsValue, JsError> {
    to_js(&BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        simd128: kernels::SIMD128,
        relaxed_simd: kernels::RELAXED_SIMD,
        kernels: kernels::KERNELS,
        bench_hooks: cfg!(feature = "bench-hooks"),
    })
}
