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
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub numel: usize,
    /// Bytes the tensor occupies in its source file.
    pub size_bytes: usize,
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
        }
    }
}
