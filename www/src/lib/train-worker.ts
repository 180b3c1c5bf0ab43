// The package's training worker (train-api.ts answers), with the SIMD128 build next to it.

import * as Comlink from "comlink";
import init, * as core from "../../pkg/quantscope.js";
import { createTrainApi } from "../worker/train-api";

Comlink.expose(
  createTrainApi({
    async load() {
      await init({ module_or_path: new URL("./quantscope_bg.wasm", import.meta.url) });
      return core;
    },
  }),
);
