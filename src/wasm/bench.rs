//! Benchmark hooks and raw kernel entry points: compiled only with the `bench-hooks`
//! feature (`scripts/build-wasm.sh --bench-hooks`, into www/pkg-bench and
//! www/pkg-bench-relaxed), so the module the page and the npm package load keeps them
//! out of its API. The benchmarks (scripts/bench/) and the relaxed-SIMD kernel test in
//! Chromium (tests/e2e/relaxed_kernels.test.mjs) load that build.

use wasm_bindgen::prelude::*;

use super::{js_err, scheme};
use crate::kernels;

/// Benchmark hook (scripts/bench/ggml.mjs): a tensor copied into wasm memory once, so
/// that timing `quantize` measures the quantizer, not the copy from JavaScript.
#[wasm_bindgen(js_name = GgmlBench)]
pub struct GgmlBench {
    data: Vec<f32>,
    out: Vec<u8>,
}

#[wasm_bindgen(js_class = GgmlBench)]
impl GgmlBench {
    #[wasm_bindgen(constructor)]
    pub fn new(data: &[f32]) -> GgmlBench {
        GgmlBench {
            data: data.to_vec(),
            out: Vec::new(),
        }
    }

    /// Quantizes the held values to a ggml type (`q8_0`, `q4_0`, ...) into a buffer
    /// kept between calls; returns the number of packed bytes.
    pub fn quantize(&mut self, ty: &str) -> Result<usize, JsError> {
        let t = crate::quant::GgmlType::from_name(ty)
            .ok_or_else(|| JsError::new(&format!("unknown ggml type `{ty}`")))?;
        let n = t
            .bytes_for(self.data.len())
            .map_err(|e| JsError::new(&e.to_string()))?;
        self.out.resize(n, 0);
        crate::quant::ggml::quantize_to(t, &self.data, &mut self.out)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(n)
    }
}

/// A tensor held inside wasm memory for benchmarks: the f32 data crosses from JavaScript
/// once, so timing `quantize` measures quantization alone (copying 64 MiB in costs about
/// as much as one quantize pass).
#[wasm_bindgen(js_name = BenchTensor)]
pub struct BenchTensor {
    tensor: crate::Tensor,
    /// Output of the `narrow` probe, allocated on first use and kept.
    probe_out: Vec<u8>,
}

#[wasm_bindgen(js_class = BenchTensor)]
impl BenchTensor {
    /// `data` in C order with shape `rows x cols`.
    #[wasm_bindgen(constructor)]
    pub fn new(data: &[f32], rows: u32, cols: u32) -> Result<BenchTensor, JsError> {
        if data.len() as u64 != rows as u64 * cols as u64 {
            return Err(JsError::new(&format!(
                "{} values do not fill a {rows} x {cols} tensor",
                data.len()
            )));
        }
        Ok(BenchTensor {
            tensor: crate::Tensor {
                name: "bench".into(),
                shape: vec![rows as usize, cols as usize],
                dtype: crate::DType::F32,
                data: data.to_vec(),
            },
            probe_out: Vec::new(),
        })
    }

    /// Quantizes (codes and parameters only: no dequantization, no metrics) and returns
    /// the packed size in bytes, so the work cannot be optimised away.
    pub fn quantize(&self, scheme_str: &str) -> Result<u32, JsError> {
        let e = scheme(scheme_str)?
            .encode(&self.tensor)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(e.packed_bytes() as u32)
    }

    /// Memory-bandwidth probes at this tensor's size, for the benchmarks' floor: `read`
    /// (every value read once) or `narrow` (read 4 bytes, write 1 to a kept buffer:
    /// an int8 quantize's traffic without its arithmetic). Returns a checksum.
    pub fn probe(&mut self, kind: &str) -> Result<u32, JsError> {
        let x = &self.tensor.data;
        match kind {
            "read" => Ok(kernels::read_probe(x)),
            "narrow" => {
                self.probe_out.resize(x.len(), 0);
                kernels::narrow_probe(x, &mut self.probe_out);
                Ok(self.probe_out.len() as u32)
            }
            _ => Err(JsError::new(&format!("unknown probe `{kind}`"))),
        }
    }
}

/// A linear layer with int8 weights (symmetric, per output channel), packed once.
/// `forward` quantizes each row of x on the fly and runs the int8 GEMM (GEMV for m = 1).
#[wasm_bindgen(js_name = LinearI8)]
pub struct WasmLinearI8 {
    w: kernels::gemm::PackedI8Matrix,
    bias: Option<Vec<f32>>,
}

#[wasm_bindgen(js_class = LinearI8)]
impl WasmLinearI8 {
    /// `weights` is [n, k] row-major (output channels in rows); `bias` has n values.
    #[wasm_bindgen(constructor)]
    pub fn new(
        weights: &[f32],
        n: usize,
        k: usize,
        bias: Option<Box<[f32]>>,
    ) -> Result<WasmLinearI8, JsError> {
        let w = kernels::gemm::PackedI8Matrix::quantize(weights, n, k).map_err(js_err)?;
        Ok(WasmLinearI8 {
            w,
            bias: bias.map(Vec::from),
        })
    }

    /// Weights given as int8 codes [n, k] with unit scales (integer benchmarks, tests).
    #[wasm_bindgen(js_name = fromCodes)]
    pub fn from_codes(codes: &[i8], n: usize, k: usize) -> Result<WasmLinearI8, JsError> {
        let w = kernels::gemm::PackedI8Matrix::from_codes(codes, n, k, &vec![1.0; n], &vec![0; n])
            .map_err(js_err)?;
        Ok(WasmLinearI8 { w, bias: None })
    }

    /// y [m, n] = x [m, k] Wᵀ + b, activations quantized per row (`sym`, `asym` or `u7`;
    /// `u7` is what the relaxed-SIMD build accelerates).
    pub fn forward(&self, x: &[f32], m: usize, activations: &str) -> Result<Vec<f32>, JsError> {
        let mode = kernels::gemm::ActQuant::parse(activations).map_err(js_err)?;
        kernels::gemm::linear_i8(x, m, &self.w, self.bias.as_deref(), mode).map_err(js_err)
    }

    /// Only the output columns of panels p0..p1 (4 channels each): [m, cols], for a pool
    /// of workers that split the channels.
    #[wasm_bindgen(js_name = forwardPanels)]
    pub fn forward_panels(
        &self,
        x: &[f32],
        m: usize,
        activations: &str,
        p0: usize,
        p1: usize,
    ) -> Result<Vec<f32>, JsError> {
        let mode = kernels::gemm::ActQuant::parse(activations).map_err(js_err)?;
        let a = kernels::gemm::QuantizedRows::quantize(x, m, self.w.k, mode).map_err(js_err)?;
        kernels::gemm::linear_i8_panels(&a, &self.w, self.bias.as_deref(), p0..p1).map_err(js_err)
    }

    /// The integer kernel alone on already quantized activations: Σ a·w as int32 [m, n]
    /// (what ONNX's MatMulInteger computes). `u7` codes must be in 0..=127.
    #[wasm_bindgen(js_name = matmulInteger)]
    pub fn matmul_integer(
        &self,
        codes: &[i8],
        m: usize,
        activations: &str,
    ) -> Result<Vec<i32>, JsError> {
        let mode = kernels::gemm::ActQuant::parse(activations).map_err(js_err)?;
        let a =
            kernels::gemm::QuantizedRows::from_codes(codes, m, self.w.k, mode).map_err(js_err)?;
        kernels::gemm::gemm_i8_i32(&a, &self.w).map_err(js_err)
    }

    /// `matmulInteger` with a chosen tile shape (the tile sweep,
    /// scripts/bench/gemm_tiles.mjs): `mr` rows x `np` panels, `pb` panels per block
    /// (0 = all); `relaxed` runs the relaxed-SIMD kernel (u7 codes only).
    #[wasm_bindgen(js_name = matmulIntegerTiled)]
    #[allow(clippy::too_many_arguments)]
    pub fn matmul_integer_tiled(
        &self,
        codes: &[i8],
        m: usize,
        activations: &str,
        mr: usize,
        np: usize,
        pb: usize,
        relaxed: bool,
    ) -> Result<Vec<i32>, JsError> {
        let mode = kernels::gemm::ActQuant::parse(activations).map_err(js_err)?;
        let a =
            kernels::gemm::QuantizedRows::from_codes(codes, m, self.w.k, mode).map_err(js_err)?;
        let t = kernels::gemm::Tiles { mr, np, pb };
        kernels::gemm::gemm_i8_i32_tiled(&a, &self.w, t, relaxed).map_err(js_err)
    }

    pub fn panels(&self) -> usize {
        self.w.panels()
    }

    pub fn bytes(&self) -> usize {
        self.w.bytes()
    }
}

/// A linear layer in f32, packed once.
#[wasm_bindgen(js_name = LinearF32)]
pub struct WasmLinearF32 {
    w: kernels::gemm::PackedF32Matrix,
    bias: Option<Vec<f32>>,
}

#[wasm_bindgen(js_class = LinearF32)]
impl WasmLinearF32 {
    #[wasm_bindgen(constructor)]
    pub fn new(
        weights: &[f32],
        n: usize,
        k: usize,
        bias: Option<Box<[f32]>>,
    ) -> Result<WasmLinearF32, JsError> {
        let w = kernels::gemm::PackedF32Matrix::pack(weights, n, k).map_err(js_err)?;
        Ok(WasmLinearF32 {
            w,
            bias: bias.map(Vec::from),
        })
    }

    pub fn forward(&self, x: &[f32], m: usize) -> Result<Vec<f32>, JsError> {
        kernels::gemm::linear_f32(x, m, &self.w, self.bias.as_deref()).map_err(js_err)
    }
}

/// A linear layer with 4-bit weights (ggml Q4_0 blocks or int4 groups along K).
#[wasm_bindgen(js_name = LinearQ4)]
pub struct WasmLinearQ4 {
    w: kernels::gemm::PackedQ4Matrix,
    bias: Option<Vec<f32>>,
}

#[wasm_bindgen(js_class = LinearQ4)]
impl WasmLinearQ4 {
    /// From raw ggml Q4_0 blocks: n rows of k / 32 blocks of 18 bytes.
    #[wasm_bindgen(js_name = fromQ4_0)]
    pub fn from_q4_0(
        blocks: &[u8],
        n: usize,
        k: usize,
        bias: Option<Box<[f32]>>,
    ) -> Result<WasmLinearQ4, JsError> {
        let w = kernels::gemm::PackedQ4Matrix::from_q4_0(blocks, n, k).map_err(js_err)?;
        Ok(WasmLinearQ4 {
            w,
            bias: bias.map(Vec::from),
        })
    }

    /// f32 weights quantized to symmetric int4, one scale per `group` values along K.
    #[wasm_bindgen(js_name = int4Groups)]
    pub fn int4_groups(
        weights: &[f32],
        n: usize,
        k: usize,
        group: usize,
        bias: Option<Box<[f32]>>,
    ) -> Result<WasmLinearQ4, JsError> {
        let w =
            kernels::gemm::PackedQ4Matrix::quantize_int4(weights, n, k, group).map_err(js_err)?;
        Ok(WasmLinearQ4 {
            w,
            bias: bias.map(Vec::from),
        })
    }

    /// y [m, n], x quantized symmetric int8 per row.
    pub fn forward(&self, x: &[f32], m: usize) -> Result<Vec<f32>, JsError> {
        kernels::gemm::linear_q4(x, m, &self.w, self.bias.as_deref()).map_err(js_err)
    }
}
