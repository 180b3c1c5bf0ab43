// The header badge that says which wasm build runs, with data attributes for tests:
// data-build ("relaxed" | "simd128" | "scalar"), data-relaxed-supported (the browser
// validates relaxed SIMD), data-relaxed-bundled (the app has that build).

import type { LoadedBuild } from "../shared/api";

export function renderBuildInfo(el: HTMLElement, loaded: LoadedBuild): void {
  const { core } = loaded;
  const build = loaded.build === "relaxed" ? "relaxed" : core.simd128 ? "simd128" : "scalar";
  el.dataset.simd128 = String(core.simd128);
  el.dataset.build = build;
  el.dataset.relaxedSupported = String(loaded.relaxedSupported);
  el.dataset.relaxedBundled = String(loaded.relaxedBundled);
  const name = { relaxed: "relaxed SIMD", simd128: "SIMD128", scalar: "scalar" }[build];
  el.textContent = `WebAssembly ${name} kernels · core v${core.version}`;
  const why =
    build === "relaxed"
      ? "This build's kernels use relaxed SIMD where its results are exact, SIMD128 elsewhere."
      : build === "simd128"
        ? "This build's kernels use 128-bit WebAssembly SIMD."
        : "This build's kernels are the scalar reference versions.";
  const fallback =
    build === "relaxed"
      ? ""
      : !loaded.relaxedBundled
        ? " This app was built without the relaxed-SIMD build."
        : !loaded.relaxedSupported
          ? " This browser does not run relaxed SIMD."
          : " The relaxed-SIMD build was turned off (?build=simd128).";
  el.title = why + fallback;
  el.classList.toggle("badge-simd", build !== "scalar");
}
