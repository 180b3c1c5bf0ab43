// The typed interface the worker exposes over Comlink; the page holds a
//! `Comlink.Remote<WorkerApi>`, the worker implements it.

import type { BuildInfo, ModelInfo, TensorReport, TensorSummary } from "./types";

/**
 * Receives the rows finished since the last call, at most every PROGRESS_INTERVAL_MS
 * and once at the end. The worker waits for it to return before going on, so that
 * progress never runs ahead of what the page has shown (and never arrives after the
 * result, as it could on its own message port).
 */
export type SummaryProgress = (done: number, total: number, rows: TensorSummary[]) => void;

export interface SummaryResult {
  rows: TensorSummary[];
  /** True when the run was cancelled or superseded before it finished. */
  cancelled: boolean;
}

export interface WorkerApi {
  /** Loads the wasm module; every other call waits for it. */
  init(): Promise<BuildInfo>;
  schemePresets(): Promise<string[]>;
  /** Canonical form of a scheme; rejects with the core's message when it is invalid. */
  parseScheme(s: string): Promise<string>;
  /**
   * Opens a model from a file's bytes (transfer the buffer). The previous model stays
   * open when this one fails, and is freed when it succeeds.
   */
  open(bytes: ArrayBuffer, fileName: string): Promise<ModelInfo>;
  analyze(tensor: string, scheme: string, bins: number): Promise<TensorReport>;
  /**
   * Summarizes every named tensor in order, yielding between tensors so that a cancel
   * (or a newer run, which supersedes this one) gets through. `runId` names the run for
   * `cancelSummary`.
   */
  summarize(
    runId: number,
    tensors: string[],
    scheme: string,
    onProgress: SummaryProgress,
  ): Promise<SummaryResult>;
  cancelSummary(runId: number): Promise<void>;
}
