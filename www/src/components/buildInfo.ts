// The header badge that says which wasm build runs.

import type { BuildInfo } from "../shared/types";

export function renderBuildInfo(el: HTMLElement, info: BuildInfo): void {
  el.dataset.simd128 = String(info.simd128);
  el.textContent = `WebAssembly ${info.simd128 ? "SIMD128" : "scalar"} kernels · core v${info.version}`;
  el.title = info.simd128
    ? "This build's kernels use 128-bit WebAssembly SIMD."
    : "This build's kernels are the scalar reference versions.";
  el.classList.toggle("badge-simd", info.simd128);
}
