// The training lab's types, shared by the page and its training worker: what the core's
// TrainSession takes and returns (src/train/mod.rs: TrainConfig, EpochPoint, TrainResult,
// TrainedModel), and the worker's API.

import type { TensorReport } from "./types";

export type ModelKind = "mlp" | "cnn";
export type Method = "float" | "ptq" | "qat" | "lsq" | "kd" | "qat-kd";

/** Every method the view offers, in the order of its table. */
export const METHODS: readonly Method[] = ["ptq", "qat", "lsq", "kd", "qat-kd"];

export const METHOD_LABELS: Record<Method, string> = {
  float: "float",
  ptq: "PTQ",
  qat: "QAT",
  lsq: "LSQ",
  kd: "KD",
  "qat-kd": "QAT+KD",
};

/** src/train/mod.rs TrainConfig, field for field. */
export interface TrainConfig {
  model: ModelKind;
  method: Method;
  wbits: number;
  abits: number | null;
  per_channel: boolean;
  ptq_range: "minmax" | "mse";
  kd_t: number;
  kd_alpha: number;
  epochs: number;
  lr: number;
  float_epochs: number;
  float_lr: number;
  batch: number;
  seed: number;
}

/** The CLI's defaults (`quantscope train --help`). */
export const DEFAULT_TRAIN: TrainConfig = {
  model: "mlp",
  method: "qat",
  wbits: 4,
  abits: 8,
  per_channel: false,
  ptq_range: "minmax",
  kd_t: 4,
  kd_alpha: 0.7,
  epochs: 15,
  lr: 5e-4,
  float_epochs: 30,
  float_lr: 1e-3,
  batch: 32,
  seed: 0,
};

export interface EpochPoint {
  /** "float" for the teacher's epochs, else the method. */
  phase: string;
  epoch: number;
  epochs: number;
  loss: number;
  test_accuracy: number;
}

export interface LayerWeights {
  name: string;
  shape: number[];
  weight: number[];
  bias: number[];
}

export interface TrainedModel {
  kind: ModelKind;
  sample_shape: number[];
  classes: number;
  layers: LayerWeights[];
  input_ranges: [number, number][];
}

export interface TrainResult {
  config: TrainConfig;
  float_accuracy: number;
  accuracy: number;
  test_samples: number;
  classes: number;
  float_bytes: number;
  bytes: number;
  weight_scheme: string | null;
  activation_scheme: string | null;
  curve: EpochPoint[];
  layers: TensorReport[];
  model: TrainedModel;
  notes: string[];
  /** The worker's handle of the finished run, for `exportRun` (set by the worker). */
  run_id?: number;
}

export interface DataInfo {
  n_train: number;
  n_test: number;
  classes: number;
  sample_shape: number[];
  images: boolean;
}

/** Where the training data comes from: the built-in digits file, or a user's .npz. */
export type TrainData = { builtin: true; url: string } | { file: Blob; name: string };

/** The built-in dataset, made at setup by scripts/digits.py into www/public/. */
export const DIGITS_URL = "digits.npz";

export type EpochCallback = (point: EpochPoint, done: number, total: number) => void;

export interface TrainApi {
  /** Reads the data (fetching the built-in file once) and says what it holds, or rejects with the reason. */
  setData(data: TrainData): Promise<DataInfo>;
  /**
   * Trains the float model (once per model kind, data and float settings) and then the
   * method, calling `onEpoch` after every epoch; yields between epochs so `cancel` gets
   * through. Resolves with the result, or null when cancelled.
   */
  run(config: TrainConfig, onEpoch: EpochCallback): Promise<TrainResult | null>;
  cancel(): Promise<void>;
  /** A finished run's model (by its `run_id`) as a file (ONNX QDQ or safetensors). */
  exportRun(runId: number, format: "onnx" | "safetensors"): Promise<Uint8Array>;
  /** Frees the finished runs (a new batch of methods begins). */
  forgetRuns(): Promise<void>;
  /**
   * Runs throwaway epochs on the current data (the page's default: the built-in digits)
   * for about `ms` milliseconds, whole epochs (the last may overrun `ms`), stopping when a
   * run or a cancel comes in, none before any data is set; says how many.
   * Why: V8 first runs the module in baseline code and moves each hot function to
   * optimized code only after it has run a while, so the first epochs of a fresh page
   * cost about 3x the later ones (docs/BENCHMARKS.md, "cold and warm epochs"). Warming
   * up while the user sets up a run means that run starts at full speed.
   */
  warmUp(ms: number): Promise<number>;
}
