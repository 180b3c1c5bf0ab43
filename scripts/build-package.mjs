// Builds the npm package's files into package/: the browser API (index.js), the
// <quantscope-playground> element (element.js), their two workers, the Node entry
// (node.js), the SIMD128 wasm build, the stylesheet, the digits dataset and the .d.ts.
//
// esbuild rather than Vite: Vite turns `new URL("./x", import.meta.url)` into a hashed
// (in library mode, inlined) asset, and those literals must reach the embedding page's
// bundler untouched, which copies the worker and wasm files from them. Needs
// www/pkg (scripts/build-wasm.sh) and www/public/digits.npz (scripts/digits.py).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "package");
const lib = path.join(root, "www/src/lib");
for (const need of ["www/pkg/quantscope.js", "www/pkg/quantscope_bg.wasm", "www/public/digits.npz"]) {
  if (!existsSync(path.join(root, need))) {
    console.error(`build-package: ${need} is missing (npm run build:wasm; python3 scripts/digits.py)`);
    process.exit(1);
  }
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const common = {
  bundle: true,
  format: "esm",
  target: "es2022",
  outdir: out,
  logLevel: "warning",
  legalComments: "eof",
};
await build({
  ...common,
  platform: "browser",
  entryPoints: ["index", "element", "worker", "train-worker"].map((e) => path.join(lib, `${e}.ts`)),
});
await build({ ...common, platform: "node", entryPoints: [path.join(lib, "node.ts")] });

copyFileSync(path.join(root, "www/pkg/quantscope_bg.wasm"), path.join(out, "quantscope_bg.wasm"));
// The page's stylesheet, nested inside the element (CSS nesting, Chromium 120+, Firefox
// 117+, Safari 17.2+) so that an embedding page's own elements keep their styles: the
// page's :root variables become the element's, and its body rule is the page's alone.
const css = readFileSync(path.join(root, "www/src/style.css"), "utf8")
  .replace(/^:root \{/m, "& {")
  .replace(/^body \{\n  margin: 0;\n\}\n/m, "");
if (css.includes(":root") || /^body /m.test(css))
  throw new Error("style.css: a :root or body rule left to scope");
writeFileSync(
  path.join(out, "style.css"),
  `/* quantscope's playground stylesheet, scoped to <quantscope-playground>. */\nquantscope-playground {\n  display: block;\n${css}\n}\n`,
);
copyFileSync(path.join(root, "www/public/digits.npz"), path.join(out, "digits.npz"));
if (existsSync(path.join(root, "www/public/digits.LICENSE.txt"))) {
  copyFileSync(path.join(root, "www/public/digits.LICENSE.txt"), path.join(out, "digits.LICENSE.txt"));
}

// Declarations of the three entries (and what they name) under package/types/.
execFileSync(
  process.execPath,
  [path.join(root, "node_modules/typescript/bin/tsc"), "-p", path.join(lib, "tsconfig.json")],
  { stdio: "inherit" },
);
console.log(`build-package: wrote ${path.relative(root, out)}/`);
