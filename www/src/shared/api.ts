// The typed interface the worker exposes over Comlink; the page holds a
//! `Comlink.Remote<WorkerApi>`, the worker implements it.

import type { BuildInfo, ModelInfo, TensorReport, TensorSummary } from "./types";

/**
 * Receives the rows finished since the last call, at most every PROGRESS_INTERVAL_MS
 * and once at the end. The worker waits for it to return before going on, so that
 * progress never runs ahead of what the page has shown (and never arrives after the
 * result, as it could on its own message port).
 */
export type SummaryProgress = (done: number, total: number, rows: SummaryRow[]) => void;

/** A tensor the core could not encode under a scheme (an axis it lacks, NaN values, ...). */
export interface SummaryFailure {
  name: string;
  scheme: string;
  /** The core's message. */
  error: string;
}

export type SummaryRow = TensorSummary | SummaryFailure;

export function isFailedRow(r: SummaryRow): r is SummaryFailure {
  return "error" in r;
}

/** One scheme's report for the selected tensor, or the core's message for it. */
export type AnalyzeResult = { scheme: string; report: TensorReport } | AnalyzeFailure;
export interface AnalyzeFailure {
  scheme: string;
  error: string;
}

export interface SummaryResult {
  rows: SummaryRow[];
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
   * One tensor under several schemes, in order; a scheme the core cannot apply to this
   * tensor gives its message in place of a report, and the others still come back.
   */
  analyzeMany(tensor: string, schemes: string[], bins: number): Promise<AnalyzeResult[]>;
  /**
   * Summarizes every named tensor in order under one scheme (the page makes one pass per
   * scheme), yielding between tensors so that a cancel (or a newer run, which supersedes
   * this one) gets through. A tensor the scheme cannot encode gives a failure row.
   * `runId` names the run for `cancelSummary`.
   */
  summarize(
    runId: number,
    tensors: string[],
    scheme: string,
    onProgress: SummaryProgress,
  ): Promise<SummaryResult>;
  cancelSummary(runId: number): Promise<void>;
}
