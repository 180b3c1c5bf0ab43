// Option defaults shared by the page and the worker (the scheme families and their
// defaults live in schemes.ts).

/** Histogram bins for the weight and error charts. */
export const HISTOGRAM_BINS = 80;

/** URL query parameter that holds the compared schemes, comma-separated. */
export const SCHEMES_PARAM = "schemes";

/** The single-scheme parameter of earlier links, still accepted on load. */
export const LEGACY_SCHEME_PARAM = "scheme";

/** URL query parameter that holds the selected tensor. */
export const TENSOR_PARAM = "tensor";

/** How often a whole-model summary reports its finished rows to the page. */
export const PROGRESS_INTERVAL_MS = 100;

/** URL query parameter that holds the number of workers for whole-model work. */
export const WORKERS_PARAM = "workers";

/**
 * Workers used when the URL names none: one per logical core, at most this many. Each
 * holds its own copy of the model, so more workers cost memory as well as startup.
 */
export const DEFAULT_MAX_WORKERS = 4;

/** The most workers the control offers, whatever the core count. */
export const MAX_WORKERS = 16;

/** URL query parameter that picks the wasm build: `simd128` forces the plain one. */
export const BUILD_PARAM = "build";

/** The layer panel's weight scheme until one is chosen. */
export const LAYER_DEFAULT_SCHEME = "int8-sym-ch0";

/**
 * Schemes the layer panel suggests: linear, at most 8 bits, per tensor or per output
 * channel, which is what the int8 GEMM runs (src/analysis/layer.rs decides; any other
 * string may be typed and gets the core's answer).
 */
export const LAYER_SCHEMES: readonly string[] = [
  "int8-sym-ch0",
  "int8-asym-ch0",
  "int8-sym",
  "uint8-asym",
  "int8-sym-ch0-mse",
  "int6-sym-ch0",
  "int4-sym-ch0",
  "int4-asym-ch0",
  "int3-sym-ch0",
  "int2-sym-ch0",
];

/** Probe rows of Gaussian or uniform inputs until another count is chosen. */
export const LAYER_DEFAULT_BATCH = 64;

/** Most probe rows the core runs (src/analysis/layer.rs `MAX_BATCH`). */
export const LAYER_MAX_BATCH = 4096;

/**
 * Selecting a weight runs the layer panel at once up to this many multiply-adds per
 * path (weights × probe rows: a 4096 × 4096 weight and 16 rows, which took 0.3 to
 * 0.7 s with the SIMD128 build in Node on a 2-core machine, quantizing included);
 * above, it waits for Run, so that browsing a large model's tensors does not hold up
 * the worker.
 */
export const LAYER_AUTO_MACS = 2 ** 28;

/** Up to this many outputs the panel draws float and int8 as paired bars; above, as lines. */
export const LAYER_MAX_BARS = 64;

/**
 * Files up to this size are read into each worker's memory once when opened; larger
 * ones are read slice by slice from the File, the header first and each tensor when it
 * is needed, so that a model of several GB opens in bounded memory.
 */
export const IN_MEMORY_LIMIT = 128 * 2 ** 20;
