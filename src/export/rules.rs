//! What every writer decides the same way: which tensors are float weights to quantize,
//! which stay as they are and why, and which schemes have a linear-codes form.

use super::report::ExportFormat;
use crate::error::{Error, Result};
use crate::quant::{Convention, LinearScheme, Scheme};
use crate::tensor::{DType, TensorInfo};

/// Float values in the source: a float dtype, or a ggml block format (a GGUF source's
/// quantized tensor, decoded to f32 by the reader).
pub(crate) fn is_float_weight(d: DType) -> bool {
    d.is_float() || matches!(d, DType::Ggml(_))
}

/// A remark for an integer tensor whose values went through f32 in the reader: integers
/// beyond ±2^24 come out rounded to the nearest f32.
pub(crate) fn rounded_ints(t: &crate::Tensor) -> Option<String> {
    if t.dtype.is_float() || matches!(t.dtype, DType::Ggml(_)) {
        return None;
    }
    let n = t.data.iter().filter(|v| v.abs() > 16_777_216.0).count();
    (n > 0).then(|| {
        format!("{n} values beyond ±2^24 are stored as the reader decoded them, rounded to f32")
    })
}

/// Why a tensor is left as it is rather than quantized, or None when the scheme applies:
/// float tensors of two or more axes are weights; 1-D tensors (biases, norm scales) stay
/// in float as llama.cpp's converter and ONNX Runtime's weight quantizers leave them.
pub(crate) fn keep_reason(info: &TensorInfo) -> Option<String> {
    // Integer codes stored with their quantization (TFLite int8, TF.js uint8/uint16)
    // come out of the reader as the reals they stand for: a weight like any float one
    // (kept "as it was" they would be written as those integers, truncating the reals).
    let real = is_float_weight(info.dtype) || info.role == crate::tensor::TensorRole::Weight;
    if !real {
        Some(format!("{} tensor: not a float weight", info.dtype))
    } else if matches!(info.dtype, DType::F8E4M3 | DType::F8E5M2) {
        Some(format!("already {}: not quantized again", info.dtype))
    } else if info.shape.len() < 2 {
        Some(format!(
            "{}-D tensor: biases and norms stay in float (as llama.cpp's converter and ONNX Runtime's quantizers leave them)",
            info.shape.len()
        ))
    } else if info.numel == 0 {
        Some("empty tensor: nothing to quantize".into())
    } else {
        None
    }
}

/// The linear scheme inside `scheme`, or an error naming the scheme when the format's
/// integer-codes-plus-scale form cannot express it.
pub(crate) fn linear_for<'a>(
    scheme: &'a Scheme,
    format: ExportFormat,
    form: &str,
) -> Result<&'a LinearScheme> {
    let refuse = |why: String| Error::Export {
        format: format.label(),
        reason: format!("scheme `{scheme}` cannot be written as {form}: {why}"),
    };
    match scheme {
        Scheme::Linear(l) if l.convention == Convention::Tfjs => Err(refuse(
            "TF.js reconstructs q·scale + min with f64 parameters, which is not (q − zero_point)·scale in f32".into(),
        )),
        Scheme::Linear(l) => Ok(l),
        Scheme::Ggml(g) => Err(refuse(format!(
            "ggml {} blocks (f16 block scales) exist only in GGUF; write a .gguf instead",
            g.format.name().to_ascii_uppercase()
        ))),
        Scheme::FourBit(_) => Err(refuse(
            "NF4/FP4 map codes through a 16-entry codebook, not a linear scale".into(),
        )),
        Scheme::Vq(_) => Err(refuse(
            "k-means / product quantization codes index a codebook, not a linear scale".into(),
        )),
        Scheme::Log(_) => Err(refuse(
            "power-of-two levels are not evenly spaced integer codes".into(),
        )),
        Scheme::Mixed(_) => Err(refuse(
            "outlier columns kept in FP16 beside int8 codes have no single-tensor form".into(),
        )),
        Scheme::Float(_) => Err(refuse(
            "a float cast has no integer codes; use int8/int4 schemes here".into(),
        )),
    }
}
