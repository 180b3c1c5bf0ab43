//! The one error type of the core: one variant per thing a user can get wrong.

use thiserror::Error;

/// Every failure the core reports. Messages name the offending value so that the CLI
/// and the page can show them as they are.
#[derive(Debug, Error)]
pub enum Error {
    #[error("empty file: {0} holds no bytes")]
    EmptyFile(String),
    #[error(
        "unrecognised file format: {name} starts with {head}; expected safetensors, .npy or .npz"
    )]
    UnknownFormat { name: String, head: String },
    #[error("safetensors: {0}")]
    Safetensors(String),
    #[error("npy `{name}`: {reason}")]
    Npy { name: String, reason: String },
    #[error("npz: {0}")]
    Npz(String),
    #[error("tensor `{name}`: unsupported dtype {dtype}")]
    UnsupportedDtype { name: String, dtype: String },
    #[error("tensor `{name}`: shape {shape:?} needs {needed} bytes, the file has {available}")]
    ShapeTooLarge {
        name: String,
        shape: Vec<u64>,
        needed: String,
        available: usize,
    },
    #[error("no tensor named `{0}`")]
    NoSuchTensor(String),
    #[error("scheme `{spec}`: {reason}")]
    BadScheme { spec: String, reason: String },
    #[error("tensor `{name}`: axis {axis} is out of range for shape {shape:?}")]
    BadAxis {
        name: String,
        axis: usize,
        shape: Vec<usize>,
    },
    #[error("tensor `{name}`: {count} values are NaN or infinite (first at index {first}); quantization needs finite weights")]
    NonFinite {
        name: String,
        count: usize,
        first: usize,
    },
    #[error("tensor `{name}`: rows of {row} values do not split into {ty} blocks of {block}")]
    GgmlRow {
        name: String,
        ty: &'static str,
        row: usize,
        block: usize,
    },
    #[error("{ty}: {n} values are not a whole number of blocks of {block}")]
    GgmlLength {
        ty: &'static str,
        n: usize,
        block: usize,
    },
    #[error("{ty}: {n} values need exactly {needed} bytes, got {got}")]
    GgmlBytes {
        ty: &'static str,
        n: usize,
        needed: usize,
        got: usize,
    },
    #[error("ggml {ty}: {what} is not supported")]
    GgmlUnsupported {
        ty: &'static str,
        what: &'static str,
    },
    #[error("tensor `{name}`: shape {shape:?} is not a layer weight; need at least 2 axes [out, in, ...]")]
    NotAMatrix { name: String, shape: Vec<usize> },
    #[error("scheme `{scheme}` cannot run on the int8 GEMM: {reason}")]
    LayerScheme { scheme: String, reason: String },
    #[error("probe inputs: {0}")]
    BadProbe(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;
