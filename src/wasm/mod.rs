//! The JavaScript binding: the only module that touches wasm-bindgen. It converts at
//! the edge and holds no logic of its own. One file per concern:
//!
//! - [`build_info`]: facts fixed at compile time (`buildInfo`);
//! - [`schemes`]: the scheme grammar as the core prints and parses it;
//! - [`source`]: a browser `File` read slice by slice ([`source::JsSource`]);
//! - [`model`]: an opened model (`Model`): open, list, analyze, summarize;
//! - [`layer`]: the layer report on `Model`;
//! - [`export`]: the writers on `Model`;
//! - [`bench`]: benchmark hooks and raw kernel entry points (`BenchTensor`, `GgmlBench`,
//!   `LinearI8`, `LinearF32`, `LinearQ4`), compiled only with the `bench-hooks` feature
//!   so that the public module the page and the npm package load does not carry them
//!   (`scripts/build-wasm.sh --bench-hooks` builds www/pkg-bench*/ for the benchmarks
//!   and the kernel tests in Chromium).
//!
//! A new concern (a whole-model run, training) goes in a file of its own here, with its
//! `#[wasm_bindgen]` items, and one `mod` line below.
#![deny(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "bench-hooks")]
mod bench;
mod build_info;
mod export;
mod layer;
mod model;
mod schemes;
mod source;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::Scheme;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// A plain Rust value as a JavaScript object (maps as objects, not `Map`s).
fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    v.serialize(&ser).map_err(|e| JsError::new(&e.to_string()))
}

/// Parses a scheme string, the error naming what is wrong with it.
fn scheme(s: &str) -> Result<Scheme, JsError> {
    s.parse::<Scheme>()
        .map_err(|e| JsError::new(&e.to_string()))
}

fn js_err(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
}
