// Opening large model files in Chromium (issue 5), not a test: the ~500 MB files of
// scripts/bench/gen_large_model.py (target/bench-models/), given to the page as a File
// (setInputFiles, as a user choosing the file). Two measurements per file:
//   - worker: a dedicated worker that runs the product's read path exactly as the app's
//     worker does (Model.openFiles over FileReaderSync slices of the File), timing the
//     tensor list (header only) and reading + decoding every tensor (Model.readTensor);
//   - page: the built app (dist/), from choosing the file to its tensor list on screen
//     (#model-name's data-open-ms, all pool workers opening it).
// The Python peers (the formats' own readers) run in the same invocation.
//
// With --huge, also a 2.1 GB safetensors file (256 F16 tensors): it opens and reads in
// wasm32's 4 GiB because only one tensor is held at a time; the worker reports how much
// wasm memory grew while reading every tensor, against the largest tensor as f32.
//
//   npm run build && node scripts/bench/open.mjs [-- --runs 3 --huge]

import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg } from "node:os";
import { extname, join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, launch, serveDist, waitForModel } from "../../tests/e2e/harness.mjs";

const { values: opts } = parseArgs({
  strict: false,
  options: { runs: { type: "string", default: "3" }, huge: { type: "boolean", default: false } },
});
const RUNS = Number(opts.runs);
const PYTHON = join(ROOT, ".venv", "bin", "python");
const GEN = join(ROOT, "scripts", "bench", "gen_large_model.py");
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

const { files } = JSON.parse(
  execFileSync(PYTHON, [GEN, join(ROOT, "target", "bench-models"), ...(opts.huge ? ["--huge"] : [])], {
    encoding: "utf8",
    cwd: ROOT,
  }),
);

// The bench worker: what www/src/worker/worker.ts does on open (sliceReader), then a
// read of every tensor. Served beside www/pkg so that it imports the built core.
const WORKER = `
import init, { Model } from "/www/pkg/quantscope.js";
const ready = init({ module_or_path: "/www/pkg/quantscope_bg.wasm" });
const memory = async () => (await ready).memory.buffer.byteLength;
onmessage = async (e) => {
  const before = await memory();
  const file = e.data;
  const reader = new FileReaderSync();
  const t0 = performance.now();
  const m = Model.openFiles([{ name: file.name, size: file.size,
    read: (o, l) => new Uint8Array(reader.readAsArrayBuffer(file.slice(o, o + l))) }]);
  const info = m.info();
  const t1 = performance.now();
  let values = 0;
  for (const t of info.tensors) values += m.readTensor(t.name);
  const t2 = performance.now();
  const lazy = m.isLazy();
  const largest = Math.max(...info.tensors.map((t) => t.numel * 4));
  m.free();
  postMessage({ list_ms: t1 - t0, read_ms: t2 - t1, tensors: info.tensors.length, values, lazy,
    grown: (await memory()) - before, largest });
};`;
const PAGE = `<!doctype html><input id="f" type="file"><script type="module">
const w = new Worker("/bench-worker.js", { type: "module" });
window.measure = () => new Promise((ok) => { w.onmessage = (e) => ok(e.data); w.postMessage(document.getElementById("f").files[0]); });
</script>`;
const MIME = { ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };
const server = createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/") return res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
  if (path === "/bench-worker.js")
    return res.writeHead(200, { "content-type": "text/javascript" }).end(WORKER);
  if (!path.startsWith("/www/pkg/")) return res.writeHead(404).end();
  res.writeHead(200, { "content-type": MIME[extname(path)] ?? "application/octet-stream" });
  res.end(readFileSync(join(ROOT, path)));
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const benchUrl = `http://127.0.0.1:${server.address().port}/`;
const app = await serveDist();

console.log(`load before: ${load()}; Chromium headless; ${RUNS} runs per file, median`);
const rows = [];
const browser = await launch();
try {
  const { page } = browser;
  page.setDefaultTimeout(600_000);
  for (const file of files) {
    await page.goto(benchUrl);
    await page.setInputFiles("#f", file);
    const runs = [];
    for (let r = 0; r < RUNS; r++) runs.push(await page.evaluate(() => window.measure()));
    if (!runs[0].lazy) throw new Error(`${file} was not read lazily`);
    // The app: choose the file, wait for its tensor list.
    const opens = [];
    for (let r = 0; r < RUNS; r++) {
      await page.goto(app.url);
      await waitForModel(page, "demo.safetensors");
      await page.setInputFiles("#file-input", file);
      const name = file.split("/").pop();
      await page.waitForFunction(
        (n) => document.getElementById("model-name")?.textContent?.startsWith(`${n} (`),
        name,
      );
      opens.push(Number(await page.$eval("#model-name", (el) => el.dataset.openMs)));
    }
    const peer = JSON.parse(execFileSync(PYTHON, [GEN, "--peer", file], { encoding: "utf8" }));
    rows.push({
      file: file.split("/").pop(),
      mb: (statSync(file).size / 1e6).toFixed(0),
      tensors: runs[0].tensors,
      list: median(runs.map((r) => r.list_ms)),
      read: median(runs.map((r) => r.read_ms)),
      open: median(opens),
      grown: Math.max(...runs.map((r) => r.grown)),
      largest: runs[0].largest,
      peer,
    });
  }
} finally {
  await browser.close();
  await app.close();
  server.close();
}
console.log(`load after: ${load()}`);
console.log(
  "\n| file | size | tensors | list, worker (ms) | read all, worker (ms) | read GB/s | wasm memory grown / largest tensor (MB) | app: choose to tensor list (ms) | Python peer list / read (ms) |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
for (const r of rows)
  console.log(
    `| ${r.file} | ${r.mb} MB | ${r.tensors} | ${r.list.toFixed(1)} | ${r.read.toFixed(0)} | ${(r.mb / 1e3 / (r.read / 1e3)).toFixed(2)} | ${(r.grown / 1e6).toFixed(0)} / ${(r.largest / 1e6).toFixed(1)} | ${r.open.toFixed(0)} | ${r.peer.list_ms.toFixed(1)} / ${r.peer.read_ms.toFixed(0)} |`,
  );
