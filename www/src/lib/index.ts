// The npm package in a browser: `Quantscope.open(file)` starts a Web Worker with the
// wasm core, opens the model there and returns a typed `Lab` (lab.ts). Each lab has its
// worker; `lab.close()` ends it. The <quantscope-playground> element is in
// "quantscope/element".

import * as Comlink from "comlink";
import type { BuildChoice, WorkerApi } from "../shared/api";
import type { TrainApi } from "../shared/train";
import { openLab, Schemes, Trainer, type Connection, type Lab } from "./lab";
import { packageSpawners } from "./spawn";

export type * from "./types";
export { Lab, Schemes, Trainer } from "./lab";

function connect<A>(worker: Worker): Connection<A> {
  return {
    api: Comlink.wrap<A>(worker) as unknown as A,
    proxy: (f) => Comlink.proxy(f),
    close: () => worker.terminate(),
  };
}

/** A model to open: a File (or several, opened as one model: shards, external data), a Blob, or a URL. */
export type Openable = File | File[] | FileList | Blob | string | URL;

export interface OpenOptions {
  /** The file name (a Blob or URL has none of its own; the core detects formats by content). */
  name?: string;
  /** "simd128" loads the SIMD128 build; "auto" (default) is the same in this package. */
  build?: BuildChoice;
}

export const Quantscope = {
  /** Opens a model in a worker of its own. Rejects with the core's message for a bad file. */
  async open(what: Openable, options: OpenOptions = {}): Promise<Lab> {
    const conn = connect<WorkerApi>(packageSpawners.compute("quantscope-lab"));
    if (typeof what === "string" || what instanceof URL) {
      const url = new URL(what, document.baseURI).href;
      const name =
        options.name ??
        url
          .split(/[/?#]/)
          .filter((p) => p !== "")
          .pop() ??
        "model";
      return openLab(conn, { url }, name, options.build);
    }
    const files = what instanceof Blob ? [what] : Array.from(what);
    const named = files.map((f, i) => ({
      name: f instanceof File ? f.name : (options.name ?? `model-${i}`),
      blob: f,
    }));
    const label = options.name ?? (named.length === 1 ? named[0]!.name : named.map((f) => f.name).join(", "));
    return openLab(conn, { files: named }, label, options.build);
  },

  /** The core's scheme parser, presets and families, in a worker that `close()` ends. */
  schemes(): Schemes & { close(): void } {
    const conn = connect<WorkerApi>(packageSpawners.compute("quantscope-schemes"));
    return Object.assign(new Schemes(conn.api), { close: () => conn.close() });
  },

  /** A training session (QAT, LSQ, KD, PTQ) on the built-in digits or an .npz, in its own worker. */
  trainer(): Trainer {
    const conn = connect<TrainApi>(packageSpawners.train());
    return new Trainer(conn, async () => ({ builtin: true, url: packageSpawners.digitsUrl() }));
  },
};
