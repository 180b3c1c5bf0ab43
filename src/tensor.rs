//! `Tensor`: a named n-dimensional array of weights, decoded to f32 for analysis.

use serde::{Serialize, Serializer};

use crate::quant::GgmlType;

/// The element type a tensor had in its file, before it was decoded to f32.
/// Serialized by its [`DType::name`] ("F32", "F8_E4M3", "Q4_K").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U64,
    U32,
    U16,
    U8,
    Bool,
    /// 8-bit float, 4 exponent bits, 3 mantissa bits, no infinities (OCP "E4M3FN").
    F8E4M3,
    /// 8-bit float, 5 exponent bits, 2 mantissa bits (OCP "E5M2").
    F8E5M2,
    /// A ggml block format (GGUF files): values come in blocks with their own scales,
    /// so a tensor's size is [`DType::bytes_for`], not a per-element size.
    Ggml(GgmlType),
}

impl Serialize for DType {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl DType {
    /// Bytes per element as stored in the source file. For a ggml block format this is
    /// the size of a whole block: use [`DType::bytes_for`] for a tensor's size.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 | DType::U64 => 8,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 2,
            DType::I8 | DType::U8 | DType::Bool | DType::F8E4M3 | DType::F8E5M2 => 1,
            DType::Ggml(t) => t.type_size(),
        }
    }

    /// Bytes that `numel` values of this type take in the file (whole blocks for the
    /// ggml formats, rounded up).
    pub fn bytes_for(self, numel: usize) -> usize {
        match self {
            DType::Ggml(t) => numel.div_ceil(t.block_size()) * t.type_size(),
            plain => numel * plain.size(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "F64",
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::I64 => "I64",
            DType::I32 => "I32",
            DType::I16 => "I16",
            DType::I8 => "I8",
            DType::U64 => "U64",
            DType::U32 => "U32",
            DType::U16 => "U16",
            DType::U8 => "U8",
            DType::Bool => "BOOL",
            DType::F8E4M3 => "F8_E4M3",
            DType::F8E5M2 => "F8_E5M2",
            DType::Ggml(t) => t.upper_name(),
        }
    }

    pub fn is_float(self) -> bool {
        matches!(
            self,
            DType::F64 | DType::F32 | DType::F16 | DType::BF16 | DType::F8E4M3 | DType::F8E5M2
        )
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A weight tensor: row-major (C order) f32 values with the shape and source dtype.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub data: Vec<f32>,
}

/// What a tensor list shows: everything but the values.
#[derive(Clone, Debug, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub numel: usize,
    /// Bytes the tensor occupies in its source file.
    pub size_bytes: usize,
    /// A weight to quantize, or a constant a graph keeps beside its weights.
    pub role: TensorRole,
}

/// What a tensor is for, as far as its type and size tell: model files keep shape
/// vectors, axes, paddings and scalars beside the weights (silero-vad's ONNX file lists
/// 158 one-element int64 constants before its first weight), and a tensor list that puts
/// weights first, or picks one to show, needs to tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TensorRole {
    /// Floating values (or stored quantized codes: a ggml block type, integer codes
    /// with their scales) of more than one element.
    Weight,
    /// An integer or boolean tensor without quantization parameters (shapes, indices,
    /// paddings), or any tensor of at most one element.
    Constant,
}

impl TensorRole {
    /// The role of a tensor of `dtype` and `numel` elements; `quantized` when the file
    /// stores quantization parameters for it (its integers are codes of real values).
    pub fn of(dtype: DType, numel: usize, quantized: bool) -> TensorRole {
        let numeric = dtype.is_float() || matches!(dtype, DType::Ggml(_)) || quantized;
        if numeric && numel > 1 {
            TensorRole::Weight
        } else {
            TensorRole::Constant
        }
    }
}

impl Tensor {
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    pub fn info(&self) -> TensorInfo {
        TensorInfo {
            name: self.name.clone(),
            shape: self.shape.clone(),
            dtype: self.dtype,
            numel: self.numel(),
            size_bytes: self.dtype.bytes_for(self.numel()),
            role: TensorRole::of(self.dtype, self.numel(), false),
        }
    }
}
