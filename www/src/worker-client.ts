// The page's handle on the compute worker: a typed Comlink proxy.

import * as Comlink from "comlink";
import type { WorkerApi } from "./shared/api";

export type Api = Comlink.Remote<WorkerApi>;

export function startWorker(): Api {
  const worker = new Worker(new URL("./worker/worker.ts", import.meta.url), {
    type: "module",
    name: "quantscope",
  });
  return Comlink.wrap<WorkerApi>(worker);
}

/** Hands a file's bytes to the worker without copying them; `bytes` is detached after. */
export function transferred(bytes: ArrayBuffer): ArrayBuffer {
  return Comlink.transfer(bytes, [bytes]);
}

export { proxy } from "comlink";
