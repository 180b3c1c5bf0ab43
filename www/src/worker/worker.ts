// The module Web Worker: the only place that loads the wasm core and computes.

import * as Comlink from "comlink";
import init, { Model, buildInfo, parseScheme, schemePresets } from "../../pkg/quantscope.js";
import wasmUrl from "../../pkg/quantscope_bg.wasm?url";
import type { AnalyzeResult, SummaryRow, WorkerApi } from "../shared/api";
import { PROGRESS_INTERVAL_MS } from "../shared/meta";
import type { BuildInfo, ModelInfo, TensorReport, TensorSummary } from "../shared/types";

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

let ready: Promise<BuildInfo> | undefined;
let model: Model | undefined;
/** The whole-model summary allowed to continue; any other run stops at its next tensor. */
let activeRun = 0;

function loaded(): Promise<BuildInfo> {
  ready ??= init({ module_or_path: wasmUrl }).then(() => buildInfo() as BuildInfo);
  return ready;
}

function current(): Model {
  if (!model) throw new Error("no model is open");
  return model;
}

/**
 * Lets queued messages (a cancel, a newer run, an analyze) in between two tensors.
 * A MessageChannel round trip rather than setTimeout(0), which browsers clamp to 4 ms
 * once timers nest: that alone would cost 4 s on a model of 1000 tensors.
 */
const channel = new MessageChannel();
const waiting: (() => void)[] = [];
channel.port1.onmessage = () => waiting.shift()?.();
function yieldToMessages(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(null);
  });
}

/** Closes the port behind a callback the page passed with Comlink.proxy. */
function release(callback: unknown): void {
  (callback as Partial<Comlink.Remote<object>>)[Comlink.releaseProxy]?.();
}

const api: WorkerApi = {
  init: loaded,

  async schemePresets() {
    await loaded();
    return schemePresets();
  },

  async parseScheme(s) {
    await loaded();
    return parseScheme(s);
  },

  async open(bytes, fileName) {
    await loaded();
    // Parse first: a bad file throws here and the previous model stays open.
    const next = new Model(new Uint8Array(bytes), fileName);
    const info = next.info() as ModelInfo;
    activeRun = 0;
    model?.free();
    model = next;
    return info;
  },

  async analyze(tensor, scheme, bins) {
    await loaded();
    return current().analyze(tensor, scheme, bins) as TensorReport;
  },

  async analyzeMany(tensor, schemes, bins) {
    await loaded();
    const m = current();
    const results: AnalyzeResult[] = [];
    for (const scheme of schemes) {
      try {
        results.push({ scheme, report: m.analyze(tensor, scheme, bins) as TensorReport });
      } catch (e) {
        results.push({ scheme, error: messageOf(e) });
      }
    }
    return results;
  },

  async summarize(runId, tensors, scheme, onProgress) {
    await loaded();
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
      await onProgress(rows.length, tensors.length, sent);
    };
    try {
      for (const name of tensors) {
        await yieldToMessages();
        // A cancel, a newer run or a newly opened model (which frees `m`) ends this run.
        if (activeRun !== runId || model !== m) {
          if (batch.length > 0) await report();
          return { rows, cancelled: true };
        }
        let row: SummaryRow;
        try {
          row = m.summarize(name, scheme) as TensorSummary;
        } catch (e) {
          row = { name, scheme, error: messageOf(e) };
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
};

Comlink.expose(api);
