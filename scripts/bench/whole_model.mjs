// Whole-model runs in Chromium (issue 10), not a test. In one page, on the same float
// model and the same inputs (the core's seeded inputs, handed to both):
//   - tract (our wasm core, SIMD128 build with the bench hooks, www/pkg-bench): GraphRunner load, then float runs;
//   - onnxruntime-web (its wasm backend, SIMD, one thread: the page is not
//     cross-origin isolated, and our core is single-threaded too): session, float runs;
//   - our per-node report: GraphSession.open (float run keeping every node output) +
//     a quantized run (weights, int8) without and with the isolated runs.
// Models: PaddleOCR det at 640x640 (rapidocr-onnxruntime) and all-MiniLM-L6-v2 at 128
// tokens (.cache/models/, scripts/gen_graph_minilm.py).
//
//   bash scripts/build-wasm.sh --bench-hooks --simd128-only && node scripts/bench/whole_model.mjs [-- --runs 5]

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg } from "node:os";
import { extname, join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, launch } from "../../tests/e2e/harness.mjs";

const { values: opts } = parseArgs({ strict: false, options: { runs: { type: "string", default: "5" } } });
const RUNS = Number(opts.runs);
const PY = join(ROOT, ".venv/bin/python");
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

function packageFile(pkg, rel) {
  const dir = execFileSync(PY, ["-c", `import importlib.util as u; s=u.find_spec('${pkg}'); print(s.submodule_search_locations[0] if s else '')`], {
    encoding: "utf8",
  }).trim();
  return dir ? join(dir, rel) : undefined;
}

const MODELS = [
  {
    label: "PaddleOCR det (PP-OCRv4) 1x3x640x640",
    file: packageFile("rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx"),
    dims: { "p2o.DynamicDimension.1": 640, "p2o.DynamicDimension.2": 640 },
    scheme: "int8-sym-ch0",
  },
  {
    label: "all-MiniLM-L6-v2, 1x128 tokens",
    file: join(ROOT, ".cache/models/all-MiniLM-L6-v2.onnx"),
    dims: { sequence: 128 },
    scheme: "int8-sym-ch1",
  },
].filter((m) => m.file && existsSync(m.file));

const PAGE = `<!doctype html><script type="module">
import init, { GraphRunner, GraphSession } from "/www/pkg-bench/quantscope.js";
import * as ort from "/ort/ort.wasm.min.mjs";
ort.env.wasm.wasmPaths = "/ort/";
ort.env.wasm.numThreads = 1;
await init({ module_or_path: "/www/pkg-bench/quantscope_bg.wasm" });
const TYPES = { F32: ["float32", Float32Array], I64: ["int64", BigInt64Array], I32: ["int32", Int32Array], BOOL: ["bool", Uint8Array] };
window.bench = async (url, dims, scheme, runs) => {
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const out = {};
  let t = performance.now();
  const runner = new GraphRunner(bytes, dims, 0n);
  out.tract_load = performance.now() - t;
  const ours = [];
  for (let r = 0; r < runs + 1; r++) { t = performance.now(); runner.run(); ours.push(performance.now() - t); }
  out.tract_run = ours.slice(1);
  const feeds = {};
  for (const i of runner.inputs()) {
    const [type, Arr] = TYPES[i.dtype];
    const data = Arr === BigInt64Array ? BigInt64Array.from(i.values.map((v) => BigInt(v))) : Arr.from(i.values);
    feeds[i.name] = new ort.Tensor(type, data, i.shape);
  }
  runner.free();
  t = performance.now();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  out.ort_load = performance.now() - t;
  const theirs = [];
  for (let r = 0; r < runs + 1; r++) { t = performance.now(); await session.run(feeds); theirs.push(performance.now() - t); }
  out.ort_run = theirs.slice(1);
  await session.release();
  // The per-node report as the page computes it.
  const none = () => true;
  t = performance.now();
  const s = GraphSession.open(bytes, [], [], dims, 0n, undefined, undefined, none);
  out.report_float = performance.now() - t;
  t = performance.now();
  s.run(scheme, "weights", "ort-uint8-asym", [], false, none);
  out.report_quantized = performance.now() - t;
  t = performance.now();
  const rep = s.run(scheme, "weights", "ort-uint8-asym", [], true, none);
  out.report_quantized_isolated = performance.now() - t;
  out.nodes = rep.nodes.length;
  out.isolated = rep.nodes.filter((n) => n.isolated).length;
  s.free();
  return out;
};
window.ready = true;
</script>`;

const MIME = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };
const files = new Map(MODELS.map((m, i) => [`/models/${i}.onnx`, m.file]));
const server = createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/") return res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
  let file;
  if (files.has(path)) file = files.get(path);
  else if (path.startsWith("/www/pkg-bench/")) file = join(ROOT, path);
  else if (path.startsWith("/ort/")) file = join(ROOT, "node_modules/onnxruntime-web/dist", path.slice(5));
  if (!file || !existsSync(file)) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream" });
  res.end(readFileSync(file));
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const url = `http://127.0.0.1:${server.address().port}/`;

const ortVersion = JSON.parse(readFileSync(join(ROOT, "node_modules/onnxruntime-web/package.json"), "utf8")).version;
console.log(`load before: ${load()}; Chromium headless; onnxruntime-web ${ortVersion}; ${RUNS} runs after one warm-up, median`);
const browser = await launch();
const rows = [];
try {
  const { page } = browser;
  page.setDefaultTimeout(900_000);
  page.on("console", (m) => console.log(`page: ${m.text()}`));
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true);
  for (const [i, m] of MODELS.entries()) {
    const r = await page.evaluate(([u, d, s, n]) => window.bench(u, d, s, n), [`/models/${i}.onnx`, m.dims, m.scheme, RUNS]);
    rows.push({ ...m, ...r });
  }
} finally {
  await browser.close();
  server.close();
}
console.log(`load after: ${load()}`);
console.log(
  "\n| model | tract load (ms) | tract float run (ms) | onnxruntime-web load (ms) | onnxruntime-web float run (ms) | ratio | report: float run keeping every node (ms) | + quantized run (ms) | + quantized run with isolated (ms) | full report total (ms) |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  const ours = median(r.tract_run);
  const theirs = median(r.ort_run);
  console.log(
    `| ${r.label} (${r.nodes} node outputs, ${r.isolated} isolated) | ${r.tract_load.toFixed(0)} | ${ours.toFixed(0)} | ${r.ort_load.toFixed(0)} | ${theirs.toFixed(0)} | ${(ours / theirs).toFixed(2)}x | ${r.report_float.toFixed(0)} | ${r.report_quantized.toFixed(0)} | ${r.report_quantized_isolated.toFixed(0)} | ${(r.report_float + r.report_quantized_isolated).toFixed(0)} |`,
  );
}
