// What the training worker answers (the `TrainApi`): the core's TrainSession run one
// epoch per step, yielding to the message queue in between, so that the page stays
// responsive and a cancel gets through. How the wasm module is found is the entry's
// (train-worker.ts for the app, lib/train-worker.ts for the npm package). A worker of
// its own, not the analysis pool: a training run holds its dataset and models for
// minutes, and the pool's workers keep serving the other panels meanwhile.

import { messageYield } from "./yield";
import * as Comlink from "comlink";
import type { TrainSession } from "../../pkg/quantscope.js";
import { CORE_TRAP } from "../shared/api";
import type { DataInfo, TrainApi, TrainConfig, TrainData, TrainedModel, TrainResult } from "../shared/train";
import { DEFAULT_TRAIN, DIGITS_URL } from "../shared/train";

export type Core = typeof import("../../pkg/quantscope.js");

export interface TrainApiOptions {
  /** Loads the wasm module once. Training runs on candle's f32 kernels, which the
   * relaxed build does not change: the SIMD128 build alone. */
  load(): Promise<Core>;
  /** Between two epochs; the default is a MessageChannel round trip (no 4 ms clamp). */
  yieldNow?(): Promise<void>;
}

/** The TrainApi over the module `options.load` gives. */
export function createTrainApi(options: TrainApiOptions): TrainApi {
  let ready: Promise<Core> | undefined;
  const core = (): Promise<Core> => (ready ??= options.load());
  const yieldToMessages = options.yieldNow ?? messageYield();

  /** Set once the module trapped: its state may be half-updated, so the page replaces this worker. */
  let trapped: string | undefined;

  /**
   * Runs `f`, a call into the wasm module about `what`, as the analysis worker's `guard()`
   * does: a trap (a panic, a failed allocation) becomes a CoreTrap error naming `what` and
   * the panic's message; the core's own errors (bad settings, refused data) pass through.
   */
  function guard<T>(c: Core, what: string, f: () => T): T {
    const trap = (message: string) => Object.assign(new Error(message), { name: CORE_TRAP });
    if (trapped) throw trap(`the training worker's WebAssembly module trapped earlier (${trapped})`);
    try {
      return f();
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError)) throw e;
      let panic: string | undefined;
      try {
        panic = c.lastPanic();
      } catch {
        // The module may not even answer that.
      }
      trapped = `${what}: ${panic ?? e.message}`;
      throw trap(`the WebAssembly core trapped on ${trapped}`);
    }
  }

  let data: { bytes: Uint8Array; name: string } | undefined;
  let builtin: Uint8Array | undefined;
  /** The float model for (kind, data, float settings), reused by every method's run. */
  let teacher: { key: string; model: TrainedModel; curve: TrainResult["curve"] } | undefined;
  let runSeq = 0;
  /** The finished runs of the current batch, by run id: each method's model stays exportable. */
  const finished = new Map<number, TrainSession>();

  function teacherKey(c: TrainConfig): string {
    return JSON.stringify([
      data?.name,
      data?.bytes.length,
      c.model,
      c.float_epochs,
      c.float_lr,
      c.batch,
      c.seed,
    ]);
  }

  const api: TrainApi = {
    async setData(d: TrainData): Promise<DataInfo> {
      const c = await core();
      let next: { bytes: Uint8Array; name: string };
      if ("builtin" in d) {
        if (!builtin) {
          const r = await fetch(d.url);
          if (!r.ok)
            throw new Error(`${DIGITS_URL}: HTTP ${r.status} (setup makes it with scripts/digits.py)`);
          builtin = new Uint8Array(await r.arrayBuffer());
        }
        next = { bytes: builtin, name: "digits.npz" };
      } else {
        next = { bytes: new Uint8Array(await d.file.arrayBuffer()), name: d.name };
      }
      // Refused data leaves the previous data in place.
      const info = guard(c, `reading ${next.name}`, () => c.trainDataInfo(next.bytes, next.name) as DataInfo);
      data = next;
      teacher = undefined;
      return info;
    },

    async run(config, onEpoch) {
      const c = await core();
      if (!data) throw new Error("no training data: choose the built-in digits or an .npz");
      const seq = ++runSeq;
      const key = teacherKey(config);
      const reuse = teacher?.key === key ? teacher : undefined;
      const d = data;
      const session = guard(
        c,
        `starting ${config.method} training`,
        () => new c.TrainSession(d.bytes, d.name, config, reuse?.model ?? null),
      );
      const total =
        guard(c, "counting epochs", () => session.totalEpochs()) + (reuse ? config.float_epochs : 0);
      let done = 0;
      // A reused float model's epochs are replayed from its curve (the chart shows them).
      for (const p of reuse?.curve ?? []) onEpoch(p, ++done, total);
      try {
        for (;;) {
          await yieldToMessages();
          if (seq !== runSeq) {
            session.free();
            return null;
          }
          const p = guard(
            c,
            `a ${config.method} epoch`,
            () => session.step() as TrainResult["curve"][number] | null,
          );
          if (!p) break;
          onEpoch(p, ++done, total);
          if (!reuse && p.phase === "float" && p.epoch === p.epochs) {
            const model = guard(c, "reading the float model", () => session.teacher() as TrainedModel | null);
            if (model) teacher = { key, model, curve: [] };
          }
        }
        const result = guard(c, `finishing ${config.method}`, () => session.finish() as TrainResult);
        if (teacher && teacher.key === key && teacher.curve.length === 0 && !reuse) {
          teacher.curve = result.curve.filter((p) => p.phase === "float");
        }
        if (reuse) result.curve = [...reuse.curve, ...result.curve];
        finished.set(seq, session);
        result.run_id = seq;
        return result;
      } catch (e) {
        if (!trapped) session.free();
        throw e;
      }
    },

    async cancel() {
      runSeq++;
    },

    async warmUp(ms) {
      const c = await core();
      const d = data;
      if (!d || trapped) return 0;
      const seq = runSeq;
      const session = guard(
        c,
        "warming up",
        () => new c.TrainSession(d.bytes, d.name, { ...DEFAULT_TRAIN, float_epochs: 1, epochs: 1000 }, null),
      );
      const start = performance.now();
      let epochs = 0;
      try {
        // A run (or a cancel) bumps runSeq: the warm-up gives way at once.
        while (performance.now() - start < ms && seq === runSeq) {
          if (!guard(c, "warming up", () => session.step())) break;
          epochs++;
          await yieldToMessages();
        }
      } finally {
        if (!trapped) session.free();
      }
      return epochs;
    },

    async forgetRuns() {
      if (!trapped) for (const s of finished.values()) s.free();
      finished.clear();
    },

    async exportRun(runId, format) {
      const run = finished.get(runId);
      if (!run) throw new Error("that run is no longer held: train it again to export it");
      const bytes = guard(await core(), `exporting ${format}`, () => run.export(format));
      return Comlink.transfer(bytes, [bytes.buffer]);
    },
  };
  return api;
}
