// The automatic mixed-precision search in Chromium (issue 12), not a test. On each model
// of docs/AUTO.md (scripts/auto_results.py's list, the same candidates), in one page,
// the public SIMD128 build (www/pkg) runs what the page's Auto panel runs:
//   open       AutoSearch: read the model and run it float (the reference)
//   pass       the sensitivity pass: measureTensor for every tensor (one model run per
//              tensor and candidate)
//   finish     the front (the DP) and every uniform scheme measured as a whole
//   dp         the DP alone (the report's search_ms)
//   check      one mix (the front point nearest 4 bpw) measured as a whole
// beside the native CLI's `quantscope auto --budget 4bpw --json` on the same model
// (its sensitivity_ms and search_ms, and the command's wall time).
//
//   npm run build:wasm && cargo build --release && node scripts/bench/auto.mjs

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg } from "node:os";
import { extname, join } from "node:path";
import { ROOT, launch } from "../../tests/e2e/harness.mjs";

const CANDIDATES =
  "int8-sym-ch,int4-sym-ch,int4-asym-group128,int3-sym-ch,int3-asym-group32,int2-asym-group32,int2-sym-ch,q8_0,q4_k,nf4,float";
const CLI = join(ROOT, "target/release/quantscope");
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

function siteFile(rel) {
  const lib = join(ROOT, ".venv/lib");
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib)) {
    const f = join(lib, py, "site-packages", rel);
    if (existsSync(f)) return f;
  }
  return undefined;
}

const MODELS = [
  {
    label: "digits MLP (accuracy)",
    file: join(ROOT, ".cache/models/digits_mlp.onnx"),
    inputs: join(ROOT, ".cache/models/digits_test.npz"),
    labels: "y",
    objective: "accuracy",
    dims: {},
  },
  {
    label: "PaddleOCR cls (output)",
    file: siteFile("rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
    objective: "output",
    dims: { "x.2": 48, "x.3": 192 },
  },
  {
    label: "PaddleOCR PP-OCRv4 rec (output)",
    file: siteFile("rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"),
    objective: "output",
    dims: { "x.2": 48, "x.3": 320 },
  },
  {
    label: "all-MiniLM-L6-v2, 16 tokens (output)",
    file: join(ROOT, ".cache/models/all-MiniLM-L6-v2.onnx"),
    objective: "output",
    dims: { sequence: 16 },
  },
].filter((m) => m.file && existsSync(m.file));

const PAGE = `<!doctype html><script type="module">
import init, { AutoSearch } from "/www/pkg/quantscope.js";
await init({ module_or_path: "/www/pkg/quantscope_bg.wasm" });
window.bench = async (url, inputsUrl, labels, dims, objective, candidates) => {
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const inputs = inputsUrl ? new Uint8Array(await (await fetch(inputsUrl)).arrayBuffer()) : undefined;
  const out = {};
  let t = performance.now();
  const s = new AutoSearch(bytes, "model.onnx", [], inputs, { dims, seed: 0, inputsName: inputs ? "inputs.npz" : undefined, labels });
  out.open = performance.now() - t;
  const n = s.begin(candidates, objective, undefined);
  t = performance.now();
  for (let i = 0; i < n; i++) s.measureTensor(i);
  out.pass = performance.now() - t;
  t = performance.now();
  const f = s.finish();
  out.finish = performance.now() - t;
  out.dp = f.search_ms;
  out.tensors = n;
  out.measurements = s.measurements();
  // The front point nearest 4 bits per weight, measured as a whole.
  const near = f.front.reduce((a, p) => (Math.abs(p.bpw - 4) < Math.abs(a.bpw - 4) ? p : a));
  const choice = f.front_choices[f.front.indexOf(near)];
  t = performance.now();
  s.check(Uint16Array.from(choice));
  out.check = performance.now() - t;
  s.free();
  return out;
};
window.ready = true;
</script>`;

const MIME = { ".js": "text/javascript", ".wasm": "application/wasm" };
const files = new Map();
MODELS.forEach((m, i) => {
  files.set(`/models/${i}.onnx`, m.file);
  if (m.inputs) files.set(`/models/${i}.npz`, m.inputs);
});
const server = createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/") return res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
  const file = files.get(path) ?? (path.startsWith("/www/pkg/") ? join(ROOT, path) : undefined);
  if (!file || !existsSync(file)) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream" });
  res.end(readFileSync(file));
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const url = `http://127.0.0.1:${server.address().port}/`;

console.log(`load before: ${load()}; Chromium headless, www/pkg (SIMD128); candidates ${CANDIDATES}`);
const rows = [];
const browser = await launch();
try {
  const { page } = browser;
  page.setDefaultTimeout(1_800_000);
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true);
  for (const [i, m] of MODELS.entries()) {
    const r = await page.evaluate(
      ([u, iu, l, d, o, c]) => window.bench(u, iu, l, d, o, c),
      [`/models/${i}.onnx`, m.inputs ? `/models/${i}.npz` : null, m.labels ?? null, m.dims, m.objective, CANDIDATES],
    );
    const args = ["auto", m.file, "--budget", "4bpw", "--candidates", CANDIDATES, "--objective", m.objective, "--json"];
    for (const [k, v] of Object.entries(m.dims)) args.push("--dim", `${k}=${v}`);
    if (m.inputs) args.push("--inputs", m.inputs, "--labels", m.labels);
    const t = performance.now();
    const rep = JSON.parse(execFileSync(CLI, args, { encoding: "utf8", maxBuffer: 1 << 28 }));
    const wall = performance.now() - t;
    const native = rep.report ?? rep;
    rows.push({ ...m, ...r, native: { pass: native.sensitivity_ms, dp: native.search_ms, wall } });
    console.log(`${m.label}: done`);
  }
} finally {
  await browser.close();
  server.close();
}
console.log(`load after: ${load()}`);
const s = (ms) => (ms / 1000).toFixed(2);
console.log(
  "\n| model (objective) | tensors | measurements | Chromium: open (s) | sensitivity pass (s) | finish: front + uniform points (s) | DP (ms) | one mix checked (s) | native CLI: sensitivity pass (s) | DP (ms) | `auto --budget 4bpw` wall (s) | pass, Chromium / native |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.label} | ${r.tensors} | ${r.measurements} | ${s(r.open)} | ${s(r.pass)} | ${s(r.finish)} | ${r.dp.toFixed(1)} | ${s(r.check)} | ${s(r.native.pass)} | ${r.native.dp.toFixed(1)} | ${s(r.native.wall)} | ${(r.pass / r.native.pass).toFixed(2)} |`,
  );
}
