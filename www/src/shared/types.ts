// The report shapes the wasm core returns, field for field as Rust serializes them.
// Kept in sync by hand with src/analysis, src/metrics.rs and src/tensor.rs; the e2e
// tests compare what the page shows with the native CLI's JSON, which catches drift.

/** One tensor's header: shape in elements, sizes in bytes. */
export interface TensorInfo {
  name: string;
  shape: number[];
  /** "F32", "F16", "BF16", "I8", ... */
  dtype: string;
  numel: number;
  size_bytes: number;
}

export interface ModelInfo {
  format: "safetensors" | "gguf" | "npy" | "npz" | "onnx" | "tflite" | "pytorch";
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  total_params: number;
  total_bytes: number;
  /** The computation graph, for formats that have one (ONNX). */
  graph?: GraphSummary;
  /** Quantization parameters stored with a tensor in the file (TFLite int8), by name. */
  quantization?: Record<string, StoredQuantization>;
  /**
   * Set by the worker: true when the core lists tensors from the file's header and reads
   * each one when it is needed (safetensors, GGUF), false when it decoded the file whole.
   */
  lazy?: boolean;
}

/** One node of a graph (`NodeRef`). */
export interface NodeRef {
  node: string;
  op_type: string;
}

/** A graph without its weights (`GraphSummary`). */
export interface GraphSummary {
  node_count: number;
  subgraph_count: number;
  op_types: Record<string, number>;
  /** Weight name -> the nodes that take it as an input. */
  weight_consumers: Record<string, NodeRef[]>;
  /** Opset imports: domain ("" is the default ONNX domain) -> version. */
  opsets: Record<string, number>;
}

/** real = scale * (code - zero_point), per tensor or along `quantized_dimension`. */
export interface StoredQuantization {
  code_dtype: string;
  scales: number[];
  zero_points: number[];
  quantized_dimension: number;
}

/** Reconstruction error of a quantized tensor against the original. */
export interface Metrics {
  mse: number;
  /** Decibels; Infinity when the reconstruction is exact. */
  sqnr_db: number;
  cosine: number;
  max_abs_error: number;
}

/** Equal-width bins over [lo, hi]. */
export interface Histogram {
  lo: number;
  hi: number;
  counts: number[];
}

/** The values codes map back to; for per-channel schemes, the widest channel's. */
export interface Grid {
  channel: number | null;
  levels: number[];
}

export interface TensorReport {
  tensor: TensorInfo;
  scheme: string;
  /** Nominal code width. */
  bits: number;
  /** One line on the scheme's parameters, from the core. */
  describe: string;
  axis: number | null;
  scales: number[];
  zero_points: number[];
  metrics: Metrics;
  weights: Histogram;
  /** Histogram of dequantized minus original. */
  error: Histogram;
  grid: Grid;
  packed_bytes: number;
  bits_per_weight: number;
  /** What the scheme did differently on this tensor (per channel on a 1-D tensor runs per tensor). */
  note?: string;
}

export interface TensorSummary {
  name: string;
  shape: number[];
  dtype: string;
  numel: number;
  scheme: string;
  metrics: Metrics;
  packed_bytes: number;
  bits_per_weight: number;
  /** As TensorReport.note. */
  note?: string;
}

export interface BuildInfo {
  version: string;
  simd128: boolean;
  kernels: "simd128" | "scalar";
}

/** Float versus int8 outputs of one layer (src/analysis/layer.rs `LayerReport`). */
export interface LayerReport {
  tensor: string;
  shape: number[];
  /** Outputs (the weight's first axis) and inputs (the other axes, flattened). */
  n: number;
  k: number;
  scheme: string;
  /** How the activations were quantized per row ("asym8", ...). */
  activations: string;
  /** "gaussian", "uniform" or "data `name`". */
  probe: string;
  batch: number;
  seed: number;
  /** int8 outputs against float outputs over the whole batch. */
  metrics: Metrics;
  /** The probe row that `float_out` and `int8_out` belong to. */
  shown_row: number;
  /** The first outputs of that row (at most 512), float path and int8 path. */
  float_out: number[];
  int8_out: number[];
  /** Histogram of int8 minus float outputs, whole batch. */
  error: Histogram;
}

/** One source tensor in a written file (src/export/: `ExportedTensor`). */
export interface ExportedTensor {
  name: string;
  shape: number[];
  dtype: string;
  /** What the file holds for it, e.g. "Q4_0", "F32". */
  stored: string;
  quantized: boolean;
  /** Why it was stored otherwise, or a caveat. */
  note?: string;
  /** Metrics of the stored values, as `quantscope quantize --json` prints them. */
  summary?: TensorSummary;
}

/** What a writer did (src/export/: `ExportReport`). */
export interface ExportReport {
  format: "onnx" | "gguf" | "safetensors";
  scheme: string;
  tensors: ExportedTensor[];
  notes: string[];
  bytes: number;
}
