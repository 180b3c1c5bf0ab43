// The report shapes the wasm core returns: generated from the Rust types into
// core-types.ts (tests/ts_types.rs keeps it up to date), re-exported here with what the
// page adds.

import type { ModelInfo as CoreModelInfo } from "./core-types";

export type {
  BuildInfo,
  ExportedTensor,
  ExportReport,
  Grid,
  GraphSummary,
  Histogram,
  LayerReport,
  Metrics,
  NodeRef,
  StoredQuantization,
  TensorInfo,
  TensorReport,
  TensorRole,
  TensorSummary,
} from "./core-types";

export type ModelInfo = CoreModelInfo & {
  /**
   * Set by the worker: true when the core lists tensors from the file's header and reads
   * each one when it is needed (safetensors, GGUF), false when it decoded the file whole.
   */
  lazy?: boolean;
};
