// The npm package in Node: the same `Lab` API as in a browser (lab.ts), with the core
// in-process (no worker): for scripts that want the CLI's numbers. A file is read
// slice by slice (only the header and the tensors in use), as the page does.

import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { openAsBlob } from "node:fs";
import { basename } from "node:path";
import * as core from "../../pkg/quantscope.js";
import type { BuildChoice, WorkerApi } from "../shared/api";
import type { BuildInfo } from "../shared/types";
import type { TrainApi } from "../shared/train";
import { createCoreApi, RELAXED_DOT_PROBE } from "../worker/core-api";
import { createTrainApi } from "../worker/train-api";
import { openLab, Schemes, Trainer, type Connection, type Lab } from "./lab";

export type * from "./types";
export { Lab, Schemes, Trainer } from "./lab";

let loaded = false;
function loadCore(): typeof core {
  if (!loaded) {
    core.initSync({ module: readFileSync(new URL("./quantscope_bg.wasm", import.meta.url)) });
    loaded = true;
  }
  return core;
}

const yieldNow = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Files opened by path: the core reads their slices with fs.readSync. */
const paths = new WeakMap<Blob, string>();

function connect(): Connection<WorkerApi> {
  const fds: number[] = [];
  const api = createCoreApi({
    async load() {
      const c = loadCore();
      return {
        core: c,
        loaded: {
          core: c.buildInfo() as BuildInfo,
          build: "simd128",
          relaxedSupported: WebAssembly.validate(RELAXED_DOT_PROBE),
          relaxedBundled: false,
        },
      };
    },
    syncReader(f) {
      const path = paths.get(f.blob);
      if (path === undefined) return undefined;
      const fd = openSync(path, "r");
      fds.push(fd);
      return (offset, length) => {
        const buf = new Uint8Array(length);
        let got = 0;
        while (got < length) {
          const n = readSync(fd, buf, got, length - got, offset + got);
          if (n === 0) break;
          got += n;
        }
        return got === length ? buf : buf.subarray(0, got);
      };
    },
    yieldNow,
  });
  return {
    api,
    proxy: (f) => f,
    close: () => {
      for (const fd of fds.splice(0)) closeSync(fd);
    },
  };
}

/** A model to open: a path (or several, opened as one model), bytes, or a Blob. */
export type Openable = string | string[] | Uint8Array | Blob;

export interface OpenOptions {
  /** The file name for bytes or a Blob (the core detects formats by content). */
  name?: string;
  build?: BuildChoice;
}

async function blobOf(path: string): Promise<Blob> {
  const blob = await openAsBlob(path);
  paths.set(blob, path);
  return blob;
}

export const Quantscope = {
  /** Opens a model; rejects with the core's message for a bad file. */
  async open(what: Openable, options: OpenOptions = {}): Promise<Lab> {
    const list = typeof what === "string" ? [what] : Array.isArray(what) ? what : undefined;
    const files = list
      ? await Promise.all(list.map(async (p) => ({ name: basename(p), blob: await blobOf(p) })))
      : [
          {
            name: options.name ?? "model",
            blob: what instanceof Blob ? what : new Blob([what as Uint8Array<ArrayBuffer>]),
          },
        ];
    const label = options.name ?? files.map((f) => f.name).join(", ");
    return openLab(connect(), { files }, label, options.build);
  },

  /** The core's scheme parser, presets and families. */
  schemes(): Schemes {
    return new Schemes(connect().api);
  },

  /** A training session on the built-in digits (shipped in the package) or an .npz. */
  trainer(): Trainer {
    const api = createTrainApi({ load: async () => loadCore(), yieldNow });
    const conn: Connection<TrainApi> = { api, proxy: (f) => f, close: () => {} };
    return new Trainer(conn, async () => ({
      file: new Blob([readFileSync(new URL("./digits.npz", import.meta.url))]),
      name: "digits.npz",
    }));
  },

  /** What the core says of itself (its version, kernels and features). */
  buildInfo(): BuildInfo {
    return loadCore().buildInfo() as BuildInfo;
  },
};
