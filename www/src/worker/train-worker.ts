// The app's training worker (train-api.ts answers; this is how Vite finds the wasm).

import * as Comlink from "comlink";
import simd128WasmUrl from "../../pkg/quantscope_bg.wasm?url";
import { createTrainApi } from "./train-api";

Comlink.expose(
  createTrainApi({
    async load() {
      const c = await import("../../pkg/quantscope.js");
      await c.default({ module_or_path: simd128WasmUrl });
      return c;
    },
  }),
);
