//! Model file formats: one file per container, detected by magic bytes, not by extension.
//!
//! - [`open`](mod@open): the one opener ([`ModelFile::open`]) and per-file detection;
//! - [`model`]: what an opened model is ([`Model`], [`ModelInfo`], [`TensorStore`]);
//! - [`index`]: what the readers share (where a tensor lies, shard and split rules);
//! - [`source`]: where bytes come from; [`decode`]: stored values to f32; [`view`]:
//!   strided views of a storage;
//! - one file per format: [`gguf`], [`npy`], [`onnx`], [`pickle`] + [`pytorch`],
//!   [`safetensors`], [`tflite`] (+ its sparse densifier), [`torchscript`], [`tfjs`],
//!   [`ggml_legacy`].

pub mod decode;
pub mod ggml_legacy;
pub mod gguf;
pub mod index;
pub mod model;
pub mod npy;
pub mod onnx;
pub mod open;
pub mod pickle;
pub mod pytorch;
pub mod safetensors;
pub mod source;
pub mod tfjs;
pub mod tflite;
mod tflite_sparse;
pub mod torchscript;
pub mod view;
pub(crate) mod zipped;

#[allow(clippy::all, clippy::pedantic, missing_docs, unused, non_camel_case_types)]
#[rustfmt::skip]
pub(crate) mod generated;

pub use index::base_name;
pub use model::{
    Format, GraphSummary, Model, ModelInfo, NodeRef, OnnxSource, RawKv, StoredQuantization,
    TensorStore,
};
pub use open::{detect, open, open_many, ModelFile};
