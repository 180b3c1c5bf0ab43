// The app's compute Web Worker: the only place that loads the wasm core and computes.
// The page runs one or more of these (a pool); each loads the module and reads the
// model itself. What it answers is core-api.ts; this file is how Vite finds the wasm
// builds (the npm package's worker is lib/worker.ts).

import * as Comlink from "comlink";
import simd128WasmUrl from "../../pkg/quantscope_bg.wasm?url";
import type { BuildInfo } from "../shared/types";
import { createCoreApi, RELAXED_DOT_PROBE, type Core } from "./core-api";

/**
 * The relaxed-SIMD build, when the app was built with one (scripts/build-wasm.sh writes
 * www/pkg-relaxed/ beside www/pkg/). A glob rather than an import: it matches nothing
 * when the folder is absent, and the app still builds, with the SIMD128 build alone.
 */
const relaxedModules = import.meta.glob<Core>("../../pkg-relaxed/quantscope.js");
const relaxedWasmUrls = import.meta.glob<true, string, string>("../../pkg-relaxed/quantscope_bg.wasm", {
  eager: true,
  query: "?url",
  import: "default",
});

const api = createCoreApi({
  async load(choice) {
    const relaxedSupported = WebAssembly.validate(RELAXED_DOT_PROBE);
    const relaxedImport = Object.values(relaxedModules)[0];
    const relaxedWasm = Object.values(relaxedWasmUrls)[0];
    const relaxedBundled = relaxedImport !== undefined && relaxedWasm !== undefined;
    const useRelaxed = choice === "auto" && relaxedSupported && relaxedBundled;
    const core = useRelaxed ? await relaxedImport() : await import("../../pkg/quantscope.js");
    await core.default({ module_or_path: useRelaxed ? relaxedWasm : simd128WasmUrl });
    // The recovery test arms the core's fault injector through this (never the page).
    (self as unknown as { quantscopeDebug: object }).quantscopeDebug = {
      trapOn: (tensor: string, scheme: string, kind: string) => core.debugTrapOn(tensor, scheme, kind),
      trapOff: () => core.debugTrapOff(),
    };
    return {
      core,
      loaded: {
        core: core.buildInfo() as BuildInfo,
        build: useRelaxed ? "relaxed" : "simd128",
        relaxedSupported,
        relaxedBundled,
      },
    };
  },
});

Comlink.expose(api);
