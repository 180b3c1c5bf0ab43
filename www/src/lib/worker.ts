// The package's compute worker (core-api.ts answers): the SIMD128 build, found next to
// this module. The package ships that build alone: the relaxed-SIMD build would double
// its 21 MB download for the int8 kernels' speed-up (docs/BENCHMARKS.md).

import * as Comlink from "comlink";
import init, * as core from "../../pkg/quantscope.js";
import { createCoreApi, RELAXED_DOT_PROBE } from "../worker/core-api";
import type { BuildInfo } from "../shared/types";

Comlink.expose(
  createCoreApi({
    async load() {
      await init({ module_or_path: new URL("./quantscope_bg.wasm", import.meta.url) });
      return {
        core,
        loaded: {
          core: core.buildInfo() as BuildInfo,
          build: "simd128",
          relaxedSupported: WebAssembly.validate(RELAXED_DOT_PROBE),
          relaxedBundled: false,
        },
      };
    },
  }),
);
