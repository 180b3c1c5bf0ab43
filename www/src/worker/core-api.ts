// What a compute worker answers (the `WorkerApi`), apart from how it finds the wasm
// module: the app's worker (worker.ts, built by Vite), the npm package's worker
// (lib/worker.ts) and the package's Node entry (lib/node.ts, in-process) each pass
// their own loader. All state lives in the closure, so that a Node script may hold
// several labs at once.

import { messageYield } from "./yield";
import * as Comlink from "comlink";
import type { AutoSearch, GraphSession, Model } from "../../pkg/quantscope.js";
import { CORE_TRAP } from "../shared/api";
import type {
  AnalyzeResult,
  BuildChoice,
  FormString,
  LoadedBuild,
  ModelSource,
  SummaryRow,
  WorkerApi,
} from "../shared/api";
import { IN_MEMORY_LIMIT, PROGRESS_INTERVAL_MS } from "../shared/meta";
import type { SchemeFamily, SchemeForm } from "../shared/schemes";
import type { ExportReport, LayerReport, ModelInfo, TensorReport, TensorSummary } from "../shared/types";
import type { AutoReport, Mix } from "../shared/auto";
import type { GraphInfo, OutputValues, RunReport } from "../shared/wholeModel";

export type Core = typeof import("../../pkg/quantscope.js");

/** A loaded wasm module and what the page is told about it. */
export interface LoadedCore {
  core: Core;
  loaded: LoadedBuild;
}

export interface CoreApiOptions {
  /** Loads the wasm module once (relaxed SIMD or SIMD128, as `choice` and the host allow). */
  load(choice: BuildChoice): Promise<LoadedCore>;
  /**
   * A synchronous reader for a file larger than IN_MEMORY_LIMIT, read slice by slice;
   * the default is FileReaderSync, which exists in workers only.
   */
  syncReader?(f: { name: string; blob: Blob }): ((offset: number, length: number) => Uint8Array) | undefined;
  /**
   * Lets queued messages in between two tensors; the default is a MessageChannel round
   * trip (Node passes setImmediate: a listening port would keep its process alive).
   */
  yieldNow?(): Promise<void>;
}

/**
 * The smallest module that uses relaxed SIMD's integer dot product, the one instruction
 * the relaxed build is for; WebAssembly.validate accepts it only where the browser has
 * relaxed SIMD. Written by hand (37 bytes) rather than assembled at build time:
 *   (module (func (param v128 v128 v128) (result v128)
 *     local.get 0 local.get 1 local.get 2 i32x4.relaxed_dot_i8x16_i7x16_add_s))
 */
// prettier-ignore
export const RELAXED_DOT_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type section (8 bytes): one type, (v128 v128 v128) -> v128
  0x03, 0x02, 0x01, 0x00, // function section (2 bytes): one function, of type 0
  0x0a, 0x0d, 0x01, 0x0b, 0x00, // code section (13 bytes): one body (11 bytes), no locals
  0x20, 0x00, 0x20, 0x01, 0x20, 0x02, // local.get 0, local.get 1, local.get 2
  0xfd, 0x93, 0x02, // SIMD prefix, then 0x113 as LEB128: i32x4.relaxed_dot_i8x16_i7x16_add_s
  0x0b, // end
]);

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The files of a source; a URL is fetched into a Blob first. */
async function sourceFiles(source: ModelSource, fileName: string): Promise<{ name: string; blob: Blob }[]> {
  if ("files" in source) return source.files;
  const response = await fetch(source.url);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return [{ name: fileName, blob: await response.blob() }];
}

/**
 * What the core reads a file through: slices, read synchronously (a worker may use
 * FileReaderSync), so that only the header and the tensors in use are ever copied into
 * wasm memory, never the whole file. A file up to IN_MEMORY_LIMIT is read into this
 * worker's JavaScript memory once and sliced from there: each FileReaderSync call costs
 * more than the copy, and the whole-model summary reads every tensor again on every run
 * (the 96 MiB pool benchmark took 910 ms per run with slice reads, see
 * docs/BENCHMARKS.md).
 */
async function sliceReader(
  f: { name: string; blob: Blob },
  syncReader: CoreApiOptions["syncReader"],
): Promise<{
  name: string;
  size: number;
  read: (offset: number, length: number) => Uint8Array;
}> {
  if (f.blob.size <= IN_MEMORY_LIMIT) {
    const bytes = new Uint8Array(await f.blob.arrayBuffer());
    return {
      name: f.name,
      size: bytes.length,
      read: (offset, length) => bytes.subarray(offset, offset + length),
    };
  }
  const custom = syncReader?.(f);
  if (custom) return { name: f.name, size: f.blob.size, read: custom };
  // Looked up at run time: a Node host passes `syncReader` and has no FileReaderSync.
  const reader = new (
    globalThis as unknown as { FileReaderSync: new () => FileReaderSyncLike }
  ).FileReaderSync();
  return {
    name: f.name,
    size: f.blob.size,
    read: (offset, length) => new Uint8Array(reader.readAsArrayBuffer(f.blob.slice(offset, offset + length))),
  };
}

interface FileReaderSyncLike {
  readAsArrayBuffer(blob: Blob): ArrayBuffer;
}

/** What a per-tensor call is about, for a trap's message. */
function on(tensor: string, scheme: string): string {
  return `tensor \`${tensor}\` under ${scheme}`;
}

/** Closes the port behind a callback the page passed with Comlink.proxy. */
function release(callback: unknown): void {
  (callback as Partial<Comlink.Remote<object>>)[Comlink.releaseProxy]?.();
}

/** The WorkerApi over the module `options.load` gives. */
export function createCoreApi(options: CoreApiOptions): WorkerApi {
  /**
   * Set once the wasm module has trapped: its memory and the binding's state may be
   * half-updated, so this worker answers nothing more and the page replaces it.
   */
  let trapped: string | undefined;

  function coreTrap(message: string): Error {
    const e = new Error(message);
    e.name = CORE_TRAP;
    return e;
  }

  /**
   * Runs `f`, a call into the wasm module about `what` (e.g. "tensor `w` under int8"). A
   * trap (WebAssembly.RuntimeError: a panic, which aborts, a failed allocation, an
   * `unreachable`) becomes a CoreTrap naming `what` and the panic's message when there
   * was one; the core's own errors pass through unchanged.
   */
  function guard<T>(what: string, f: () => T): T {
    if (trapped) throw coreTrap(`this worker's WebAssembly module trapped earlier (${trapped})`);
    try {
      return f();
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError)) throw e;
      let panic: string | undefined;
      try {
        panic = lastPanic?.();
      } catch {
        // The module may not even answer that.
      }
      trapped = `${what}: ${panic ?? e.message}`;
      throw coreTrap(`the WebAssembly core trapped on ${trapped}`);
    }
  }

  /** The core's last panic message (set once the module has loaded). */
  let lastPanic: (() => string | undefined) | undefined;

  let ready: Promise<LoadedCore> | undefined;
  let model: Model | undefined;
  /** The page's name for the open model: summaries for another generation are refused. */
  let generation = -1;
  /** Counts open calls, so that one overtaken by a later call opens nothing. */
  let openSeq = 0;
  /** The whole-model summary allowed to continue; any other run stops at its next tensor. */
  let activeRun = 0;
  /** The whole-model run session (src/graph/), in the worker the page runs for it. */
  let graph: GraphSession | undefined;
  /** The automatic search (src/auto/), in the worker the page runs for it. */
  let autoSearch: AutoSearch | undefined;

  function currentAuto(): AutoSearch {
    if (!autoSearch) throw new Error("no model is open for the automatic search");
    return autoSearch;
  }

  /**
   * A progress function for the core to call synchronously: forwards to the page at most
   * every PROGRESS_INTERVAL_MS (a cancel ends this worker, so nothing comes back).
   */
  function throttled(onProgress: (stage: string, done: number, total: number) => void) {
    let last = 0;
    let stage = "";
    return (s: string, done: number, total: number): boolean => {
      const now = performance.now();
      if (s !== stage || now - last >= PROGRESS_INTERVAL_MS || done === total) {
        stage = s;
        last = now;
        void onProgress(s, done, total);
      }
      return true;
    };
  }

  function currentGraph(): GraphSession {
    if (!graph) throw new Error("no model is open for whole-model runs");
    return graph;
  }

  function loaded(choice: BuildChoice = "auto"): Promise<LoadedCore> {
    ready ??= options.load(choice).then((r) => {
      lastPanic = () => r.core.lastPanic();
      return r;
    });
    return ready;
  }

  function current(): Model {
    if (!model) throw new Error("no model is open");
    return model;
  }

  const yieldToMessages = options.yieldNow ?? messageYield();

  const api: WorkerApi = {
    async init(choice) {
      return (await loaded(choice)).loaded;
    },

    async schemePresets() {
      const { core } = await loaded();
      return guard("listing the scheme presets", () => core.schemePresets());
    },

    async parseScheme(s) {
      const { core } = await loaded();
      return guard(`parsing the scheme ${s}`, () => core.parseScheme(s));
    },

    async schemeFamilies() {
      return (await loaded()).core.schemeFamilies() as SchemeFamily[];
    },

    async schemeForm(s) {
      return (await loaded()).core.schemeForm(s) as SchemeForm;
    },

    async schemeFromForm(form) {
      return (await loaded()).core.schemeFromForm(form) as FormString;
    },

    async open(source, fileName, gen) {
      const seq = ++openSeq;
      const { core } = await loaded();
      const files = await sourceFiles(source, fileName);
      if (seq !== openSeq) throw new Error(`${fileName}: another model was opened meanwhile`);
      // Parse first: a bad file throws here and the previous model stays open.
      const readers = await Promise.all(files.map((f) => sliceReader(f, options.syncReader)));
      if (seq !== openSeq) throw new Error(`${fileName}: another model was opened meanwhile`);
      const next = guard(`opening ${fileName}`, () => core.Model.openFiles(readers));
      const info = guard(`listing ${fileName}`, () => next.info() as ModelInfo);
      info.lazy = next.isLazy();
      activeRun = 0;
      model?.free();
      model = next;
      generation = gen;
      return info;
    },

    async analyze(tensor, scheme, bins) {
      await loaded();
      const m = current();
      return guard(on(tensor, scheme), () => m.analyze(tensor, scheme, bins) as TensorReport);
    },

    async analyzeMany(tensor, schemes, bins) {
      await loaded();
      const m = current();
      const results: AnalyzeResult[] = [];
      for (const scheme of schemes) {
        try {
          results.push({ scheme, report: guard(on(tensor, scheme), () => m.analyze(tensor, scheme, bins)) });
        } catch (e) {
          if (trapped) throw e;
          results.push({ scheme, error: messageOf(e) });
        }
      }
      return results;
    },

    async summarize(runId, gen, tasks, onProgress) {
      await loaded();
      if (gen !== generation) {
        release(onProgress);
        throw new Error("this worker has another model open");
      }
      activeRun = runId;
      const m = current();
      const rows: SummaryRow[] = [];
      let batch: SummaryRow[] = [];
      let lastReport = performance.now();
      const report = async (): Promise<void> => {
        const sent = batch;
        batch = [];
        lastReport = performance.now();
        // Awaited: backpressure, and progress lands before the result does.
        await onProgress(rows.length, tasks.length, sent);
      };
      try {
        for (const { name, scheme } of tasks) {
          await yieldToMessages();
          // A cancel, a newer run or a newly opened model (which frees `m`) ends this run.
          if (activeRun !== runId || model !== m) {
            if (batch.length > 0) await report();
            return { rows, cancelled: true };
          }
          let row: SummaryRow;
          try {
            row = guard(on(name, scheme), () => m.summarize(name, scheme) as TensorSummary);
          } catch (e) {
            row = { name, scheme, error: messageOf(e) };
            if (trapped) {
              // This task's row says what happened; the page re-runs the rest on a fresh worker.
              rows.push(row);
              batch.push(row);
              await report();
              throw e;
            }
          }
          rows.push(row);
          batch.push(row);
          if (rows.length === 1 || performance.now() - lastReport >= PROGRESS_INTERVAL_MS) await report();
        }
        if (batch.length > 0) await report();
        return { rows, cancelled: false };
      } finally {
        if (activeRun === runId) activeRun = 0;
        release(onProgress);
      }
    },

    async cancelSummary(runId) {
      if (activeRun === runId) activeRun = 0;
    },

    async layer({ tensor, scheme, probe, row }) {
      await loaded();
      if (probe.kind === "npy") {
        // Read each time: a probe file is small next to the model (at most 4096 rows).
        const bytes = new Uint8Array(await probe.file.arrayBuffer());
        const m = current();
        return guard(on(tensor, scheme), () => m.layerInputs(tensor, scheme, bytes, probe.fileName, row));
      }
      const m = current();
      return guard(on(tensor, scheme), () =>
        m.layerRow(tensor, scheme, probe.kind, probe.batch, probe.seed, row),
      ) as LayerReport;
    },

    async exportModel(format, scheme) {
      await loaded();
      // The ONNX writer rewrites the files the core opened (told ONNX by content).
      const m = current();
      const { bytes, report } = guard(`writing ${format} with ${scheme}`, () => m.export(format, scheme)) as {
        bytes: Uint8Array;
        report: ExportReport;
      };
      return Comlink.transfer({ bytes, report }, [bytes.buffer]);
    },

    async graphOpen(source, fileName, request, onProgress) {
      const { core } = await loaded();
      try {
        const files = await sourceFiles(source, fileName);
        const main = files.find((f) => /\.onnx$/i.test(f.name)) ?? files[0];
        if (!main) throw new Error("no file given");
        const bytes = new Uint8Array(await main.blob.arrayBuffer());
        const others = files.filter((f) => f !== main);
        const external = await Promise.all(
          others.map(async (f) => new Uint8Array(await f.blob.arrayBuffer())),
        );
        const inputs = request.inputs ? new Uint8Array(await request.inputs.file.arrayBuffer()) : undefined;
        graph?.free();
        graph = undefined;
        graph = guard(`running ${fileName} float`, () =>
          core.GraphSession.open(
            bytes,
            others.map((f) => f.name),
            external,
            request.dims,
            BigInt(request.seed),
            inputs,
            request.inputs?.fileName,
            throttled(onProgress),
          ),
        );
        const opened = graph;
        return guard(`listing ${fileName}'s graph`, () => opened.info() as GraphInfo);
      } finally {
        release(onProgress);
      }
    },

    async graphRun(request, onProgress) {
      await loaded();
      try {
        const g = currentGraph();
        return guard(
          `running the model with ${request.scheme}`,
          () =>
            g.run(
              request.scheme,
              request.mode,
              request.act,
              request.exclude,
              request.isolated,
              throttled(onProgress),
            ) as RunReport,
        );
      } finally {
        release(onProgress);
      }
    },

    async graphOutputs() {
      await loaded();
      const g = currentGraph();
      return guard("reading the model's outputs", () => g.outputs() as OutputValues[]);
    },

    async graphFloat(name) {
      await loaded();
      const g = currentGraph();
      const v = guard(`reading ${name}`, () => g.floatValue(name));
      return Comlink.transfer(v, [v.buffer]);
    },

    async graphExport() {
      await loaded();
      const g = currentGraph();
      const bytes = guard("writing the QDQ model", () => g.exportQdq());
      return Comlink.transfer(bytes, [bytes.buffer]);
    },

    async autoOpen(source, fileName, request) {
      const { core } = await loaded();
      const files = await sourceFiles(source, fileName);
      const main = files.find((f) => /\.onnx$/i.test(f.name)) ?? files[0];
      if (!main) throw new Error("no file given");
      const bytes = new Uint8Array(await main.blob.arrayBuffer());
      const external = await Promise.all(
        files
          .filter((f) => f !== main)
          .map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.blob.arrayBuffer()) })),
      );
      const inputs = request.inputs ? new Uint8Array(await request.inputs.file.arrayBuffer()) : undefined;
      autoSearch?.free();
      autoSearch = undefined;
      autoSearch = guard(
        `opening ${main.name} for the search`,
        () =>
          new core.AutoSearch(bytes, main.name, external, inputs, {
            dims: request.dims,
            seed: request.seed,
            inputsName: request.inputs?.fileName,
            labels: request.labels,
          }),
      );
      const s = autoSearch;
      const unrunnable = s.unrunnable() ?? null;
      return {
        runnable: unrunnable === null,
        unrunnable,
        hasLabels: s.hasLabels(),
        defaultCandidates: core.AutoSearch.defaultCandidates(),
      };
    },

    async autoBegin(candidates, objective, format) {
      await loaded();
      const s = currentAuto();
      return guard("starting the search", () => s.begin(candidates, objective, format || undefined));
    },

    async autoMeasure(i) {
      await loaded();
      const s = currentAuto();
      return guard(`measuring tensor #${i}`, () => s.measureTensor(i));
    },

    async autoFinish() {
      await loaded();
      const s = currentAuto();
      return guard("the search", () => s.finish() as AutoReport);
    },

    async autoCheck(choice) {
      await loaded();
      const s = currentAuto();
      return guard("measuring the mix", () => s.check(Uint16Array.from(choice)) as Mix);
    },

    async autoMeasurements() {
      return currentAuto().measurements();
    },

    async autoExport(format, choice) {
      await loaded();
      const s = currentAuto();
      const { bytes, report } = guard(`writing the mix as ${format}`, () =>
        s.exportMix(format, Uint16Array.from(choice)),
      ) as { bytes: Uint8Array; report: ExportReport };
      return Comlink.transfer({ bytes, report }, [bytes.buffer]);
    },

    async autoPolicy(choice) {
      await loaded();
      return currentAuto().policyJson(Uint16Array.from(choice));
    },

    async autoRecipes(choice) {
      await loaded();
      return currentAuto().recipes(Uint16Array.from(choice)) as {
        llama_cpp: string[];
        onnxruntime: { python: string };
      };
    },
  };
  return api;
}
