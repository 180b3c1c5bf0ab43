//! A strided view of a storage (PyTorch's tensors over their storages): where each
//! element lies, gathered into row-major order and decoded.

use super::decode::{decode, decode_be};
use crate::dtype::DType;

/// Where a tensor's elements lie in its storage: the first element, and the size and
/// stride of each axis (in elements), for gathering them in row-major order.
#[derive(Clone, Debug)]
pub(crate) struct View {
    pub start: u64,
    pub size: Vec<u64>,
    pub stride: Vec<u64>,
    /// Bytes per element.
    pub item: usize,
    pub big_endian: bool,
}

impl View {
    /// The elements in row-major order, from `raw`, the bytes of the storage from the
    /// view's first element on.
    pub(crate) fn gather(&self, raw: &[u8]) -> Vec<u8> {
        let numel: u64 = self.size.iter().product();
        let item = self.item;
        if numel == 0 {
            return Vec::new();
        }
        if self.stride == row_major_strides(&self.size) || numel == 1 {
            let b = self.start as usize * item;
            return raw[b..b + numel as usize * item].to_vec();
        }
        let mut out = Vec::with_capacity(numel as usize * item);
        let mut index = vec![0u64; self.size.len()];
        for _ in 0..numel {
            let off = self.start
                + index
                    .iter()
                    .zip(&self.stride)
                    .map(|(i, s)| i * s)
                    .sum::<u64>();
            let b = off as usize * item;
            out.extend_from_slice(&raw[b..b + item]);
            for ax in (0..index.len()).rev() {
                index[ax] += 1;
                if index[ax] < self.size[ax] {
                    break;
                }
                index[ax] = 0;
            }
        }
        out
    }

    /// Decodes gathered elements of `dtype`.
    pub(crate) fn decode(&self, contiguous: &[u8], dtype: DType) -> Vec<f32> {
        if self.big_endian {
            decode_be(contiguous, dtype)
        } else {
            decode(contiguous, dtype)
        }
    }
}

/// C-order strides (in elements) of a shape.
pub(crate) fn row_major_strides(size: &[u64]) -> Vec<u64> {
    let mut s = vec![1u64; size.len()];
    for i in (0..size.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1].saturating_mul(size[i + 1]);
    }
    s
}
