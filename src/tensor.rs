//! `Tensor`: a named n-dimensional array of weights, decoded to f32 for analysis.

use serde::Serialize;

pub use crate::dtype::DType;

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
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    #[cfg_attr(feature = "ts-types", ts(type = "string"))]
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
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
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
