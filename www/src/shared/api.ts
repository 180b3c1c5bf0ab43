// The typed interface the worker exposes over Comlink; the page holds a
//! `Comlink.Remote<WorkerApi>`, the worker implements it.

import type { AutoOpened, AutoOpenRequest, AutoReport, Mix, Objective } from "./auto";
import type { ExportReport, BuildInfo, LayerReport, ModelInfo, TensorReport, TensorSummary } from "./types";
import type {
  GraphInfo,
  GraphOpenRequest,
  GraphProgress,
  GraphRunRequest,
  OutputValues,
  RunReport,
} from "./wholeModel";
import type { FormString } from "./core-types";
import type { SchemeFamily, SchemeForm } from "./schemes";

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

/**
 * The name of the error a worker rejects with when the wasm module trapped (a panic, an
 * allocation that failed, an `unreachable`): the module is unusable from then on, so the
 * page replaces that worker (and reopens the model in the new one). The message names
 * the tensor and scheme being computed.
 */
export const CORE_TRAP = "CoreTrap";

export function isCoreTrap(e: unknown): boolean {
  return e instanceof Error && e.name === CORE_TRAP;
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

/** Which wasm build a worker should load: the best this browser runs, or SIMD128 alone. */
export type BuildChoice = "auto" | "simd128";

/** The wasm build a worker loaded, and why. */
export interface LoadedBuild {
  /** What the core says of itself. */
  core: BuildInfo;
  /** The package loaded: www/pkg-relaxed ("relaxed") or www/pkg ("simd128"). */
  build: "relaxed" | "simd128";
  /** This browser validates relaxed SIMD's integer dot product. */
  relaxedSupported: boolean;
  /** The app was built with a relaxed-SIMD package beside the SIMD128 one. */
  relaxedBundled: boolean;
}

/**
 * Where a worker reads a model from: one or several files (shards, an ONNX model with
 * its external data), or a URL. A Blob (a File is one) is posted, not copied: every
 * worker of the pool reads slices of the same underlying bytes itself, the header
 * first and then each tensor when it is needed. A URL is fetched by each.
 */
export type ModelSource = { files: { name: string; blob: Blob }[] } | { url: string };

/** One row of the whole-model table to compute. */
export interface SummaryTask {
  name: string;
  scheme: string;
}

/**
 * Where the layer panel's probe inputs come from: seeded Gaussian or uniform rows, or a
 * user's .npy file (a Blob, posted rather than copied; its rows are the batch).
 */
export type LayerProbe =
  | { kind: "gaussian" | "uniform"; batch: number; seed: number }
  | { kind: "npy"; file: Blob; fileName: string };

/** One run of the layer panel: `quantscope layer` with the same arguments prints the same report. */
export interface LayerRequest {
  tensor: string;
  scheme: string;
  probe: LayerProbe;
  /** The probe row whose outputs come back (metrics cover the whole batch). */
  row: number;
}

export interface WorkerApi {
  /**
   * Loads the wasm module (relaxed SIMD where the browser validates it and the app has
   * that build, unless `choice` is "simd128"); every other call waits for it. A call
   * before `init` loads the "auto" choice.
   */
  init(choice: BuildChoice): Promise<LoadedBuild>;
  schemePresets(): Promise<string[]>;
  /** Canonical form of a scheme; rejects with the core's message when it is invalid. */
  parseScheme(s: string): Promise<string>;
  /** The scheme families, their options and defaults, as the core describes them. */
  schemeFamilies(): Promise<SchemeFamily[]>;
  /** The family and option values of a scheme string; rejects with the core's message. */
  schemeForm(s: string): Promise<SchemeForm>;
  /** The string a form's values make and its canonical form, or the core's message. */
  schemeFromForm(form: SchemeForm): Promise<FormString>;
  /**
   * Reads and opens a model; `generation` names it for `summarize`. The previous model
   * stays open when this one fails, and is freed when it succeeds. An open overtaken by
   * a later one (which finished reading first) rejects and opens nothing.
   */
  open(source: ModelSource, fileName: string, generation: number): Promise<ModelInfo>;
  analyze(tensor: string, scheme: string, bins: number): Promise<TensorReport>;
  /**
   * One tensor under several schemes, in order; a scheme the core cannot apply to this
   * tensor gives its message in place of a report, and the others still come back.
   */
  analyzeMany(tensor: string, schemes: string[], bins: number): Promise<AnalyzeResult[]>;
  /**
   * Summarizes the tasks in order, yielding between tensors so that a cancel (or a
   * newer run, which supersedes this one) gets through. A tensor the scheme cannot
   * encode gives a failure row. `runId` names the run for `cancelSummary`; a worker
   * whose open model is not `generation` rejects rather than answer for another model.
   * The page hands each worker of the pool its share, a few tasks at a time.
   */
  summarize(
    runId: number,
    generation: number,
    tasks: SummaryTask[],
    onProgress: SummaryProgress,
  ): Promise<SummaryResult>;
  cancelSummary(runId: number): Promise<void>;
  /**
   * Float versus int8 outputs of one weight (`Model.layerRow` / `Model.layerInputs`);
   * rejects with the core's message (a scheme the int8 GEMM cannot run, a 1-D tensor,
   * inputs of the wrong width, a row outside the batch).
   */
  layer(request: LayerRequest): Promise<LayerReport>;
  /**
   * The open model quantized with `scheme`, written as a file (`Model.export`): the
   * bytes (transferred, not copied) and the writer's report. ONNX rewrites the open
   * .onnx file (with its external data files); rejects with the core's message.
   */
  exportModel(format: ExportFormat, scheme: string): Promise<ExportResult>;
  /**
   * Whole-model runs (src/graph/), in a worker of their own (the page ends it to
   * cancel): opens the ONNX model and runs it float.
   */
  graphOpen(
    source: ModelSource,
    fileName: string,
    request: GraphOpenRequest,
    onProgress: GraphProgress,
  ): Promise<GraphInfo>;
  /** A quantized run against the float one: `quantscope run --json`'s report. */
  graphRun(request: GraphRunRequest, onProgress: GraphProgress): Promise<RunReport>;
  /** The graph's outputs, float and of the last run. */
  graphOutputs(): Promise<OutputValues[]>;
  /** The float run's values of a node output. */
  graphFloat(name: string): Promise<Float32Array>;
  /** The last run as an ONNX QDQ model (excluded nodes float). */
  graphExport(): Promise<Uint8Array>;
  /**
   * The automatic mixed-precision search (src/auto/, `AutoSearch`), in a worker of its
   * own (the page ends it to cancel): opens the model and runs it float where it can.
   */
  autoOpen(source: ModelSource, fileName: string, request: AutoOpenRequest): Promise<AutoOpened>;
  /** Starts measuring: returns how many tensors `autoMeasure` is to be called for. */
  /** `format` ("" for any) keeps to the candidates one file of that format stores. */
  autoBegin(candidates: string, objective: Objective, format: string): Promise<number>;
  /** Measures tensor `i`'s candidates (in order); returns its name. */
  autoMeasure(i: number): Promise<string>;
  /** Ends the measurement: the front (with each point's choice), uniform points, table. */
  autoFinish(): Promise<AutoReport>;
  /** Measures a mix as a whole. */
  autoCheck(choice: number[]): Promise<Mix>;
  /** Measurements (model runs or encodings) the search worker has made. */
  autoMeasurements(): Promise<number>;
  /** The mix as a file through the writers. */
  autoExport(format: ExportFormat, choice: number[]): Promise<ExportResult>;
  /** The mix as `quantscope quantize --policy`'s file. */
  autoPolicy(choice: number[]): Promise<string>;
  /** llama.cpp's --tensor-type lines and ONNX Runtime's recipe for the mix. */
  autoRecipes(choice: number[]): Promise<{ llama_cpp: string[]; onnxruntime: { python: string } }>;
}

export type ExportFormat = "safetensors" | "gguf" | "onnx";

/** `Model.schemeFromForm`'s answer: `scheme` when the core takes `text`, else `error`. */
export type { FormString };

export interface ExportResult {
  bytes: Uint8Array;
  report: ExportReport;
}
