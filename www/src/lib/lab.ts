// The package's public API, the same in a browser (index.ts: a Web Worker per lab, over
// Comlink) and in Node (node.ts: in-process). A `Lab` is one open model; its methods are
// the CLI's commands and return the same numbers (`quantscope quantize --json`,
// `layer`, `run`, `auto`), typed by the Rust types (shared/core-types.ts).

import type {
  AnalyzeResult,
  ExportFormat,
  ExportResult,
  LayerRequest,
  LoadedBuild,
  ModelSource,
  SummaryRow,
  WorkerApi,
} from "../shared/api";
import type { AutoReport, Mix, Objective } from "../shared/auto";
import type { SchemeFamily } from "../shared/schemes";
import type { DataInfo, EpochPoint, TrainApi, TrainConfig, TrainResult } from "../shared/train";
import { DEFAULT_TRAIN } from "../shared/train";
import type { LayerReport, ModelInfo, TensorInfo, TensorReport } from "../shared/types";
import type { GraphInfo, GraphRunRequest, OutputValues, RunReport } from "../shared/wholeModel";

/** How a host connects to a core: a worker over Comlink, or the module in-process. */
export interface Connection<A> {
  api: A;
  /** Wraps a callback so that the other side may call it (Comlink.proxy; identity in-process). */
  proxy<F extends (...args: never[]) => unknown>(f: F): F;
  close(): void;
}

/** What a whole-model run is given: `quantscope run`'s options. */
export interface RunOptions {
  scheme: string;
  /** "weights" (the default) quantizes the weights only; "full" the activations too. */
  mode?: "weights" | "full";
  /** The activations' scheme and range estimator in full mode (e.g. "uint8-asym-minmax"). */
  act?: string;
  /** Node or weight names kept float. */
  exclude?: string[];
  /** Also run each weight quantized alone (the isolated error per node). */
  isolated?: boolean;
  /** Sizes of the graph's symbolic dimensions (`--dim batch=1`). */
  dims?: Record<string, number>;
  /** Seed of the random inputs when `inputs` is not given. */
  seed?: number;
  /** An .npy/.npz of inputs (`--inputs`). */
  inputs?: { file: Blob; fileName: string };
  onProgress?: (stage: string, done: number, total: number) => void;
}

/** What the automatic mixed-precision search is given: `quantscope auto`'s options. */
export interface AutoOptions {
  /** Candidate schemes, comma-separated (else the core's default list). */
  candidates?: string;
  objective?: Objective;
  /** Keep to the candidates one file of this format stores (`--format`). */
  format?: ExportFormat;
  dims?: Record<string, number>;
  seed?: number;
  inputs?: { file: Blob; fileName: string };
  /** The labels array of the inputs .npz, for the accuracy objective (`--labels`). */
  labels?: string;
  onProgress?: (done: number, total: number, tensor: string) => void;
}

export interface AutoResult {
  report: AutoReport;
  /** Measures a mix (the choice of a front point) as a whole. */
  check(choice: number[]): Promise<Mix>;
  /** Writes a mix through the writers. */
  export(format: ExportFormat, choice: number[]): Promise<ExportResult>;
  /** The mix as `quantscope quantize --policy`'s file. */
  policy(choice: number[]): Promise<string>;
}

/** One model open in a core of its own. */
export class Lab {
  private graphKey: string | undefined;
  private autoKey: string | undefined;
  private autoDefaults: string | undefined;
  private runs = 0;

  constructor(
    private readonly conn: Connection<WorkerApi>,
    private readonly source: ModelSource,
    /** The file name the model was opened as. */
    readonly fileName: string,
    /** The model's tensors and metadata (`quantscope inspect --json`). */
    readonly info: ModelInfo,
    /** The wasm build the core runs. */
    readonly build: LoadedBuild,
  ) {}

  get tensors(): TensorInfo[] {
    return this.info.tensors;
  }

  /** One tensor under one scheme; rejects with the core's message. */
  analyze(tensor: string, scheme: string, bins = 64): Promise<TensorReport> {
    return this.conn.api.analyze(tensor, scheme, bins);
  }

  /**
   * One tensor under several schemes, in order: a scheme the core cannot apply to this
   * tensor gives `{ scheme, error }`, the others their report.
   */
  compare(tensor: string, schemes: string[], bins = 64): Promise<AnalyzeResult[]> {
    return this.conn.api.analyzeMany(tensor, schemes, bins);
  }

  /**
   * Every tensor under every scheme (`quantscope quantize --json`'s rows, tensor by
   * tensor); a tensor a scheme cannot encode gives `{ name, scheme, error }`.
   */
  async summarize(
    schemes: string[],
    onProgress?: (done: number, total: number) => void,
  ): Promise<SummaryRow[]> {
    const tasks = this.info.tensors.flatMap((t) => schemes.map((scheme) => ({ name: t.name, scheme })));
    const progress = this.conn.proxy((done: number, total: number) => onProgress?.(done, total));
    const r = await this.conn.api.summarize(++this.runs, 0, tasks, progress);
    return r.rows;
  }

  /** Float versus int8 outputs of one weight (`quantscope layer`). */
  layer(request: LayerRequest): Promise<LayerReport> {
    return this.conn.api.layer(request);
  }

  /** The model quantized with `scheme`, as a file (`quantscope quantize -o`). */
  export(format: ExportFormat, scheme: string): Promise<ExportResult> {
    return this.conn.api.exportModel(format, scheme);
  }

  /** Opens the ONNX graph for runs (once per dims, seed and inputs). */
  private async openGraph(o: RunOptions): Promise<GraphInfo | undefined> {
    const key = JSON.stringify([o.dims ?? {}, o.seed ?? 0, o.inputs?.fileName ?? null, o.inputs?.file.size]);
    if (key === this.graphKey) return undefined;
    const progress = this.conn.proxy((s: string, d: number, t: number) => o.onProgress?.(s, d, t));
    const request = { dims: o.dims ?? {}, seed: o.seed ?? 0, ...(o.inputs ? { inputs: o.inputs } : {}) };
    const info = await this.conn.api.graphOpen(this.source, this.fileName, request, progress);
    this.graphKey = key;
    return info;
  }

  /** The graph's inputs, outputs and quantizable nodes (ONNX models). */
  async graph(o: Omit<RunOptions, "scheme"> = {}): Promise<GraphInfo> {
    this.graphKey = undefined;
    const info = await this.openGraph({ ...o, scheme: "" });
    if (!info) throw new Error("the graph did not open");
    return info;
  }

  /** Runs the model float and quantized: `quantscope run --json`'s report (ONNX models). */
  async run(o: RunOptions): Promise<RunReport> {
    await this.openGraph(o);
    const request: GraphRunRequest = {
      scheme: o.scheme,
      mode: o.mode ?? "weights",
      act: o.act ?? "uint8-asym-minmax",
      exclude: o.exclude ?? [],
      isolated: o.isolated ?? false,
    };
    const progress = this.conn.proxy((s: string, d: number, t: number) => o.onProgress?.(s, d, t));
    return this.conn.api.graphRun(request, progress);
  }

  /** The outputs of the graph, float and of the last run. */
  outputs(): Promise<OutputValues[]> {
    return this.conn.api.graphOutputs();
  }

  /** The last run as an ONNX QDQ model that ONNX Runtime runs. */
  exportQdq(): Promise<Uint8Array> {
    return this.conn.api.graphExport();
  }

  /** The automatic mixed-precision search (`quantscope auto`). */
  async auto(o: AutoOptions = {}): Promise<AutoResult> {
    const api = this.conn.api;
    const key = JSON.stringify([o.dims ?? {}, o.seed ?? 0, o.inputs?.fileName ?? null, o.labels ?? null]);
    if (key !== this.autoKey) {
      const opened = await api.autoOpen(this.source, this.fileName, {
        dims: o.dims ?? {},
        seed: o.seed ?? 0,
        ...(o.inputs ? { inputs: o.inputs } : {}),
        ...(o.labels ? { labels: o.labels } : {}),
      });
      this.autoKey = key;
      this.autoDefaults = opened.defaultCandidates.join(",");
    }
    const candidates = o.candidates ?? this.autoDefaults ?? "";
    const n = await api.autoBegin(candidates, o.objective ?? "output", o.format ?? "");
    for (let i = 0; i < n; i++) {
      const name = await api.autoMeasure(i);
      o.onProgress?.(i + 1, n, name);
    }
    const report = await api.autoFinish();
    return {
      report,
      check: (choice) => api.autoCheck(choice),
      export: (format, choice) => api.autoExport(format, choice),
      policy: (choice) => api.autoPolicy(choice),
    };
  }

  /** Ends the lab's core (a worker is terminated). */
  close(): void {
    this.conn.close();
  }
}

/** Opens a model in a fresh core. */
export async function openLab(
  conn: Connection<WorkerApi>,
  source: ModelSource,
  fileName: string,
  build: "auto" | "simd128" = "auto",
): Promise<Lab> {
  try {
    const loaded = await conn.api.init(build);
    const info = await conn.api.open(source, fileName, 0);
    return new Lab(conn, source, fileName, info, loaded);
  } catch (e) {
    conn.close();
    throw e;
  }
}

/** Scheme helpers that need no model: the core's parser, presets and families. */
export class Schemes {
  constructor(private readonly api: WorkerApi) {}
  /** The canonical form of a scheme; rejects with the core's message. */
  parse(s: string): Promise<string> {
    return this.api.parseScheme(s);
  }
  presets(): Promise<string[]> {
    return this.api.schemePresets();
  }
  families(): Promise<SchemeFamily[]> {
    return this.api.schemeFamilies();
  }
}

/** Where the training data comes from: the built-in digits or an .npz (x, y). */
export type TrainDataSource = "digits" | { file: Blob; name: string };

export interface TrainOptions {
  data?: TrainDataSource;
  onEpoch?: (point: EpochPoint, done: number, total: number) => void;
}

/** A training session (QAT, LSQ, KD, PTQ) on a small dataset, in a core of its own. */
export class Trainer {
  constructor(
    private readonly conn: Connection<TrainApi>,
    private readonly digits: () => Promise<{ file: Blob; name: string } | { builtin: true; url: string }>,
  ) {}

  private dataKey: string | undefined;

  /** Sets the data (the built-in digits unless given); the data's shape and classes. */
  async data(data: TrainDataSource = "digits"): Promise<DataInfo> {
    const info = await this.conn.api.setData(data === "digits" ? await this.digits() : data);
    this.dataKey = data === "digits" ? "digits" : data.name;
    return info;
  }

  /** Trains with `config` (defaults: the page's, method QAT); the curve, accuracies, models. */
  async train(config: Partial<TrainConfig> = {}, o: TrainOptions = {}): Promise<TrainResult> {
    if (this.dataKey === undefined || o.data !== undefined) await this.data(o.data);
    const full: TrainConfig = { ...DEFAULT_TRAIN, ...config };
    const onEpoch = this.conn.proxy((p: EpochPoint, d: number, t: number) => o.onEpoch?.(p, d, t));
    const r = await this.conn.api.run(full, onEpoch);
    if (!r) throw new Error("the run was cancelled");
    return r;
  }

  /**
   * Runs throwaway epochs on the current data (the built-in digits unless `data` chose
   * other data) for about `ms` milliseconds so that the
   * engine has optimized the training code before the first real run (a fresh page's
   * first epochs otherwise cost about 3x: docs/BENCHMARKS.md). Returns the epochs run;
   * a `train` call meanwhile ends it.
   */
  async warmUp(ms = 1500): Promise<number> {
    if (this.dataKey === undefined) await this.data();
    return this.conn.api.warmUp(ms);
  }

  /** A finished run's model as a file. */
  exportRun(result: TrainResult, format: "onnx" | "safetensors"): Promise<Uint8Array> {
    if (result.run_id === undefined) throw new Error("this result has no run to export");
    return this.conn.api.exportRun(result.run_id, format);
  }

  close(): void {
    this.conn.close();
  }
}
