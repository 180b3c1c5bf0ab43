//! quantscope: quantize neural-network weight tensors and measure what it costs.
//!
//! The core reads model files ([`formats`]), quantizes tensors with a chosen
//! [`quant::Scheme`], and reports error metrics and histograms ([`metrics`],
//! [`analysis`]). It knows nothing of JavaScript: `src/wasm/` is the only module that
//! touches wasm-bindgen, and it is compiled only for wasm32.

pub mod analysis;
pub mod auto;
pub mod budget;
pub mod build;
pub mod dtype;
pub mod error;
pub mod export;
pub mod formats;
pub mod graph;
pub mod kernels;
pub mod metrics;
pub mod quant;
pub mod tensor;
pub mod train;

#[cfg(target_arch = "wasm32")]
mod wasm;

pub use budget::Budget;
pub use error::{Error, Result};
pub use formats::{open, Format, Model, TensorStore};
pub use quant::Scheme;
pub use tensor::{DType, Tensor, TensorInfo};
