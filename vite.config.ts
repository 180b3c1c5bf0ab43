// Vite builds the page in www/ into dist/; the worker is bundled as an ES module.
import { defineConfig } from "vite";

export default defineConfig({
  root: "www",
  // Relative asset URLs: dist/ works from any path (a static host's subfolder too).
  base: "./",
  publicDir: "public",
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    target: "es2022",
  },
  worker: {
    format: "es",
  },
});
