//! The JavaScript binding: the only module that touches wasm-bindgen. It converts at
//! the edge and holds no logic of its own.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::formats::lazy::ModelFile;
use crate::formats::source::{ByteSource, InMemory};
use crate::{analysis, kernels, Scheme, Tensor, TensorStore};

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    v.serialize(&ser).map_err(|e| JsError::new(&e.to_string()))
}

fn scheme(s: &str) -> Result<Scheme, JsError> {
    s.parse::<Scheme>()
        .map_err(|e| JsError::new(&e.to_string()))
}

#[derive(Serialize)]
struct BuildInfo {
    version: &'static str,
    simd128: bool,
    relaxed_simd: bool,
    kernels: &'static str,
}

/// Facts fixed when this module was compiled: `simd128` is true only in a build whose
/// kernels are the SIMD128 twins.
#[wasm_bindgen(js_name = buildInfo)]
pub fn build_info() -> Result<JsValue, JsError> {
    to_js(&BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        simd128: kernels::SIMD128,
        relaxed_simd: kernels::RELAXED_SIMD,
        kernels: kernels::KERNELS,
    })
}

/// Canonical string of a scheme, or an error naming what is wrong with it.
#[wasm_bindgen(js_name = parseScheme)]
pub fn parse_scheme(s: &str) -> Result<String, JsError> {
    Ok(scheme(s)?.to_string())
}

/// The schemes offered first, as canonical strings.
#[wasm_bindgen(js_name = schemePresets)]
pub fn scheme_presets() -> Vec<String> {
    Scheme::presets().iter().map(Scheme::to_string).collect()
}

/// A file the page reads in slices: `read(offset, length)` returns a Uint8Array of
/// exactly `length` bytes (the worker reads a `File` with FileReaderSync).
struct JsSource {
    name: String,
    len: u64,
    read: js_sys::Function,
}

impl ByteSource for JsSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, len: usize) -> crate::Result<Cow<'_, [u8]>> {
        let fail = |why: String| {
            crate::Error::Invalid(format!(
                "{}: reading {len} bytes at offset {offset}: {why}",
                self.name
            ))
        };
        let got = self
            .read
            .call2(
                &JsValue::NULL,
                &JsValue::from_f64(offset as f64),
                &JsValue::from_f64(len as f64),
            )
            .map_err(|e| fail(js_message(&e)))?;
        let bytes = got
            .dyn_into::<js_sys::Uint8Array>()
            .map_err(|_| fail("the reader did not return a Uint8Array".into()))?;
        if bytes.length() as usize != len {
            return Err(fail(format!(
                "the reader returned {} bytes",
                bytes.length()
            )));
        }
        Ok(Cow::Owned(bytes.to_vec()))
    }
}

fn js_message(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "failed".into())
}

/// An opened model: tensors listed from the file's header and read one at a time where
/// the format allows it (safetensors, GGUF), else decoded when opened.
#[wasm_bindgen(js_name = Model)]
pub struct WasmModel {
    model: ModelFile,
    /// The tensor read last, for the next call about the same tensor (the page asks
    /// for one tensor under several schemes in a row). At most one tensor is held.
    last: RefCell<Option<Rc<Tensor>>>,
}

impl WasmModel {
    fn wrap(model: ModelFile) -> WasmModel {
        WasmModel {
            model,
            last: RefCell::new(None),
        }
    }

    fn with_tensor<R>(
        &self,
        name: &str,
        f: impl FnOnce(&Tensor) -> Result<R, JsError>,
    ) -> Result<R, JsError> {
        let cached = self
            .last
            .borrow()
            .as_ref()
            .filter(|t| t.name == name)
            .cloned();
        if let Some(t) = cached {
            return f(&t);
        }
        // Let go of the previous tensor before reading the next: at most one is held.
        self.last.replace(None);
        match self.model.load(name).map_err(js_err)? {
            Cow::Borrowed(t) => f(t),
            Cow::Owned(t) => {
                let t = Rc::new(t);
                self.last.replace(Some(t.clone()));
                f(&t)
            }
        }
    }
}

#[wasm_bindgen(js_class = Model)]
impl WasmModel {
    /// Opens a model from the file's bytes; the name is for messages and .npy tensor names.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8], file_name: &str) -> Result<WasmModel, JsError> {
        let src: Box<dyn ByteSource> = Box::new(InMemory(bytes.to_vec()));
        let model = ModelFile::open(vec![(file_name.to_string(), src)]).map_err(js_err)?;
        Ok(WasmModel::wrap(model))
    }

    /// Opens one or several files as one model (shards, ONNX external data) without
    /// copying them in: `files` is an array of `{ name, size, read(offset, length) }`,
    /// where `read` returns exactly `length` bytes as a Uint8Array.
    #[wasm_bindgen(js_name = openFiles)]
    pub fn open_files(files: js_sys::Array) -> Result<WasmModel, JsError> {
        let field = |f: &JsValue, key: &str| {
            js_sys::Reflect::get(f, &JsValue::from_str(key))
                .map_err(|_| JsError::new(&format!("file entry has no `{key}`")))
        };
        let mut sources: Vec<(String, Box<dyn ByteSource>)> = Vec::new();
        for f in files.iter() {
            let name = field(&f, "name")?
                .as_string()
                .ok_or_else(|| JsError::new("file entry: `name` is not a string"))?;
            let size = field(&f, "size")?
                .as_f64()
                .filter(|s| *s >= 0.0 && s.fract() == 0.0)
                .ok_or_else(|| JsError::new(&format!("{name}: `size` is not a byte count")))?;
            let read = field(&f, "read")?
                .dyn_into::<js_sys::Function>()
                .map_err(|_| JsError::new(&format!("{name}: `read` is not a function")))?;
            sources.push((
                name.clone(),
                Box::new(JsSource {
                    name,
                    len: size as u64,
                    read,
                }),
            ));
        }
        Ok(WasmModel::wrap(ModelFile::open(sources).map_err(js_err)?))
    }

    /// True when tensors are read from the file on demand (safetensors, GGUF).
    #[wasm_bindgen(js_name = isLazy)]
    pub fn is_lazy(&self) -> bool {
        self.model.is_lazy()
    }

    /// Reads and decodes one tensor, keeps nothing, and returns its element count: the
    /// open/read benchmark (scripts/bench/open.mjs) times the reader with it.
    #[wasm_bindgen(js_name = readTensor)]
    pub fn read_tensor(&self, name: &str) -> Result<usize, JsError> {
        Ok(self.model.load(name).map_err(js_err)?.data.len())
    }

    /// Format, tensor list and metadata (`ModelInfo`).
    pub fn info(&self) -> Result<JsValue, JsError> {
        to_js(&self.model.info())
    }

    /// Full report of one tensor under one scheme (`TensorReport`).
    pub fn analyze(&self, tensor: &str, scheme_str: &str, bins: u32) -> Result<JsValue, JsError> {
        let scheme = scheme(scheme_str)?;
        self.with_tensor(tensor, |t| {
            to_js(&analysis::analyze(t, &scheme, bins as usize).map_err(js_err)?)
        })
    }

    /// Float versus int8 outputs of one layer (`LayerReport`): `probe` is `gaussian` or
    /// `uniform`, `batch` rows, seeded; activations quantized per row (int8 asymmetric).
    pub fn layer(
        &self,
        tensor: &str,
        scheme_str: &str,
        probe: &str,
        batch: u32,
        seed: u32,
    ) -> Result<JsValue, JsError> {
        let probe = analysis::layer::Probe::parse(probe).map_err(js_err)?;
        let scheme = scheme(scheme_str)?;
        self.with_tensor(tensor, |t| {
            let r = analysis::layer::layer(
                t,
                &scheme,
                &probe,
                batch as usize,
                seed as u64,
                kernels::gemm::ActQuant::Asym8,
                64,
            )
            .map_err(js_err)?;
            to_js(&r)
        })
    }

    /// [`layer`](Self::layer) showing the outputs of probe row `row` (the page's layer
    /// panel); `quantscope layer --row` prints the same report.
    #[wasm_bindgen(js_name = layerRow)]
    pub fn layer_row(
        &self,
        tensor: &str,
        scheme_str: &str,
        probe: &str,
        batch: u32,
        seed: u32,
        row: u32,
    ) -> Result<JsValue, JsError> {
        let probe = analysis::layer::Probe::parse(probe).map_err(js_err)?;
        let scheme = scheme(scheme_str)?;
        self.with_tensor(tensor, |t| run_layer(t, &scheme, &probe, batch, seed, row))
    }

    /// The layer report on a user's inputs: `inputs` are the bytes of an .npy file of
    /// [batch, in] or [in] values (named after `inputs_name`, as the CLI names it), which
    /// bring their own row count.
    #[wasm_bindgen(js_name = layerInputs)]
    pub fn layer_inputs(
        &self,
        tensor: &str,
        scheme_str: &str,
        inputs: &[u8],
        inputs_name: &str,
        row: u32,
    ) -> Result<JsValue, JsError> {
        let scheme = scheme(scheme_str)?;
        let x = crate::formats::npy::read_npy(inputs, inputs_name).map_err(js_err)?;
        let x = x
            .tensors
            .into_iter()
            .next()
            .ok_or_else(|| JsError::new(&format!("{inputs_name} holds no array")))?;
        let probe = analysis::layer::Probe::Data(x);
        self.with_tensor(tensor, |t| run_layer(t, &scheme, &probe, 0, 0, row))
    }

    /// Metrics only (`TensorSummary`), for the whole-model table.
    pub fn summarize(&self, tensor: &str, scheme_str: &str) -> Result<JsValue, JsError> {
        let scheme = scheme(scheme_str)?;
        self.with_tensor(tensor, |t| {
            to_js(&analysis::summarize(t, &scheme).map_err(js_err)?)
        })
    }
}

/// The layer report shown at `row`, activations int8 asymmetric per row, 64 error bins.
fn run_layer(
    t: &Tensor,
    scheme: &Scheme,
    probe: &analysis::layer::Probe,
    batch: u32,
    seed: u32,
    row: u32,
) -> Result<JsValue, JsError> {
    let r = analysis::layer::layer_row(
        t,
        scheme,
        probe,
        batch as usize,
        seed as u64,
        kernels::gemm::ActQuant::Asym8,
        64,
        row as usize,
    )
    .map_err(js_err)?;
    to_js(&r)
}

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

fn js_err(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
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

// Writers (src/export/): in an impl block of their own, so that the rest of the class
// can change without touching it.
#[wasm_bindgen(js_class = Model)]
impl WasmModel {
    /// The model quantized with a scheme, as a file: `format` is `onnx`, `gguf` or
    /// `safetensors`. Returns `{ bytes: Uint8Array, report: ExportReport }`. The ONNX
    /// writer rewrites the original model: pass the .onnx file's bytes as `source` and,
    /// for a model that keeps tensors in external data files, those files as
    /// `external`, an array of `{ name, bytes }` (the other formats ignore both).
    pub fn export(
        &self,
        format: &str,
        scheme_str: &str,
        source: Option<Box<[u8]>>,
        external: Option<js_sys::Array>,
    ) -> Result<JsValue, JsError> {
        let format = crate::export::ExportFormat::parse(format).map_err(js_err)?;
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for f in external.iter().flat_map(|a| a.iter()) {
            let get = |k: &str| {
                js_sys::Reflect::get(&f, &JsValue::from_str(k))
                    .map_err(|_| JsError::new(&format!("external file entry has no `{k}`")))
            };
            let name = get("name")?
                .as_string()
                .ok_or_else(|| JsError::new("external file entry: `name` is not a string"))?;
            let bytes = get("bytes")?
                .dyn_into::<js_sys::Uint8Array>()
                .map_err(|_| JsError::new(&format!("{name}: `bytes` is not a Uint8Array")))?;
            files.push((name, bytes.to_vec()));
        }
        let named: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let onnx = source.as_deref().map(|model| crate::export::OnnxSource {
            model,
            external: &named,
        });
        let e = crate::export::export(&self.model, format, &scheme(scheme_str)?, onnx)
            .map_err(js_err)?;
        let out = js_sys::Object::new();
        let bytes = js_sys::Uint8Array::from(e.bytes.as_slice());
        let set = |k: &str, v: &JsValue| {
            js_sys::Reflect::set(&out, &JsValue::from_str(k), v)
                .map(|_| ())
                .map_err(|_| JsError::new("could not build the export result"))
        };
        set("bytes", &bytes)?;
        set("report", &to_js(&e.report)?)?;
        Ok(out.into())
    }
}
