//! The one error type of the core: one variant per thing a user can get wrong.

use thiserror::Error;

/// Every failure the core reports. Messages name the offending value so that the CLI
/// and the page can show them as they are.
#[derive(Debug, Error)]
pub enum Error {
    #[error("empty file: {0} holds no bytes")]
    EmptyFile(String),
    #[error(
        "unrecognised file format: {name} starts with {head}; expected safetensors, GGUF, ONNX, TFLite, PyTorch (.pt/.pth/.bin), TorchScript, TF.js (model.json with its .bin shards), legacy ggml, .npy or .npz"
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
    /// Boxed: the refusal's eight strings would make every `Result` of the crate large.
    #[error("{0}")]
    OverBudget(Box<OverBudget>),
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
    #[error("automatic search: {0}")]
    Auto(String),
    #[error("{format}: {reason}")]
    NotYetSupported { format: String, reason: String },
    #[error(
        "`{outer}`: member `{member}` is itself a zip archive; unpack it and open what is inside"
    )]
    NestedArchive { outer: String, member: String },
    #[error("zip archive `{name}`: {reason}")]
    Zip { name: String, reason: String },
    #[error("ONNX: not a valid ModelProto: {0}")]
    OnnxDecode(String),
    #[error("ONNX tensor `{name}`: {reason}")]
    OnnxTensor { name: String, reason: String },
    #[error("ONNX tensor `{name}` keeps its data in external file `{location}`, which was not given; open it together with that file")]
    MissingExternalData { name: String, location: String },
    #[error("ONNX tensor `{name}`: external data [{offset}, {offset}+{length}) lies outside `{location}` ({file_len} bytes)")]
    ExternalDataRange {
        name: String,
        location: String,
        offset: u64,
        length: u64,
        file_len: usize,
    },
    #[error("TFLite: not a valid model flatbuffer: {0}")]
    TfliteDecode(String),
    #[error("TFLite tensor `{name}`: buffer index {index} is out of range (the model has {buffers} buffers)")]
    TfliteBufferIndex {
        name: String,
        index: u32,
        buffers: usize,
    },
    #[error("TFLite tensor `{name}`: {reason}")]
    TfliteTensor { name: String, reason: String },
    #[error("pickle: {0}")]
    Pickle(String),
    #[error("pickle wants to call `{module}.{name}`, which is not a tensor, storage or plain container: refused (nothing in the file is executed)")]
    ForbiddenGlobal { module: String, name: String },
    #[error("PyTorch: {0}")]
    Pytorch(String),
    #[error("PyTorch tensor `{name}`: storage `{key}` holds {available} bytes, the tensor's offset, size and stride reach byte {needed}")]
    StorageOutOfRange {
        name: String,
        key: String,
        needed: String,
        available: usize,
    },
    #[error("GGUF: {0}")]
    Gguf(String),
    #[error("TF.js: {0}")]
    Tfjs(String),
    #[error("TorchScript: {0}")]
    Torchscript(String),
    #[error("ggml (legacy): {0}")]
    GgmlLegacy(String),
    #[error("{format} export: {reason}")]
    Export {
        format: &'static str,
        reason: String,
    },
    #[error("sharded model: {0}")]
    Shard(String),
    #[error("tensor `{name}` appears in both `{first}` and `{second}`")]
    DuplicateTensor {
        name: String,
        first: String,
        second: String,
    },
    #[error("whole-model run: {0}")]
    Graph(String),
    #[error("the inference engine has no {} {}: {}; the per-tensor analysis still works", if ops.len() == 1 { "operator" } else { "operators" }, ops.join(", "), nodes.join(", "))]
    UnsupportedOps {
        ops: Vec<String>,
        nodes: Vec<String>,
    },
    #[error("whole-model run cancelled")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, Error>;

/// A memory budget's refusal: what would be allocated, and the budget it exceeds.
#[derive(Debug, thiserror::Error)]
#[error("tensor `{tensor}` under {scheme}: the {operation} would need about {needed} ({parts}), more than the memory budget of {budget} ({origin}){hint}")]
pub struct OverBudget {
    pub tensor: String,
    pub scheme: String,
    pub operation: String,
    pub needed: String,
    pub parts: String,
    pub budget: String,
    pub origin: String,
    /// "; try ..." or empty.
    pub hint: String,
}
