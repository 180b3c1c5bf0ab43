// Vite builds the page in www/ into dist/; the worker is bundled as an ES module.
import { defineConfig, type Plugin } from "vite";
// One policy for the built page, `vite preview` and the e2e server (www/csp.mjs).
import { CSP } from "./www/csp.mjs";

/** Writes the Content-Security-Policy into the built page as a <meta> element. */
function cspMeta(): Plugin {
  return {
    name: "quantscope-csp",
    apply: "build",
    transformIndexHtml: () => [
      {
        tag: "meta",
        attrs: { "http-equiv": "Content-Security-Policy", content: CSP },
        injectTo: "head-prepend",
      },
    ],
  };
}

export default defineConfig({
  root: "www",
  // Relative asset URLs: dist/ works from any path (a static host's subfolder too).
  base: "./",
  publicDir: "public",
  plugins: [cspMeta()],
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    target: "es2022",
  },
  // `npm start` serves dist/ with `vite preview`: the header covers the workers too.
  preview: {
    headers: { "Content-Security-Policy": CSP },
  },
  worker: {
    format: "es",
  },
});
