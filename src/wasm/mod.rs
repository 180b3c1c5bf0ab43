//! The JavaScript binding: the only module that touches wasm-bindgen. It converts at
//! the edge and holds no logic of its own. One file per concern:
//!
//! - [`build_info`]: facts fixed at compile time (`buildInfo`);
//! - [`schemes`]: the scheme grammar as the core prints and parses it;
//! - [`source`]: a browser `File` read slice by slice ([`source::JsSource`]);
//! - [`model`]: an opened model (`Model`): open, list, analyze, summarize;
//! - [`layer`]: the layer report on `Model`;
//! - [`export`]: the writers on `Model`;
//! - [`graph`]: whole-model runs (`GraphSession`; `GraphRunner` for the benchmark);
//! - [`train`]: the training lab (`TrainSession`, `trainDataInfo`), an epoch per call;
//! - [`debug`]: a fault injector for the page's recovery test (a real trap on demand);
//! - [`bench`]: benchmark hooks and raw kernel entry points (`BenchTensor`, `GgmlBench`,
//!   `LinearI8`, `LinearF32`, `LinearQ4`), compiled only with the `bench-hooks` feature
//!   so that the public module the page and the npm package load does not carry them
//!   (`scripts/build-wasm.sh --bench-hooks` builds www/pkg-bench*/ for the benchmarks
//!   and the kernel tests in Chromium).
//!
//! A new concern (a whole-model run, training) goes in a file of its own here, with its
//! `#[wasm_bindgen]` items, and one `mod` line below.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod auto;
#[cfg(feature = "bench-hooks")]
mod bench;
mod build_info;
mod debug;
mod export;
mod graph;
mod layer;
mod model;
mod schemes;
mod source;
mod train;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::Scheme;

thread_local! {
    /// The last panic's message: a panic aborts the module (a trap), and the worker asks
    /// for it afterwards to say what happened, not only "unreachable".
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        LAST_PANIC.with(|p| {
            if let Ok(mut p) = p.try_borrow_mut() {
                *p = Some(info.to_string());
            }
        });
    }));
}

/// The message of the panic that trapped the module, if one did.
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.try_borrow().ok().and_then(|p| p.clone()))
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
