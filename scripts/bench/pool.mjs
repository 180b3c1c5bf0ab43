// Worker pool benchmark (issue 4), not a test: the page's whole-model summary of a
// generated model under three schemes, with 1 worker and with 2, in headless Chromium
// against the built dist/. Prints the medians and a Markdown table for docs/BENCHMARKS.md.
//
//   npm run build:wasm && npm run bench:pool [-- --runs 3 --tensors 24 --side 1024 --workers 1,2]

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, launch, serveDist, waitForModel, writeSafetensors } from "../../tests/e2e/harness.mjs";

// Not strict: `npm run bench` hands every benchmark the same arguments.
const { values: opts } = parseArgs({
  strict: false,
  options: {
    runs: { type: "string", default: "3" },
    tensors: { type: "string", default: "24" },
    side: { type: "string", default: "1024" },
    workers: { type: "string", default: "1,2" },
  },
});
const RUNS = Number(opts.runs);
const TENSORS = Number(opts.tensors);
const SIDE = Number(opts.side);
const WORKERS = opts.workers.split(",").map(Number);
const SCHEMES = ["int8-sym-ch0", "int4-sym-ch0", "int8-asym"];

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
/** lscpu's model name, and the x86 vector extensions V8 may use for SIMD128. */
const cpu = () => {
  try {
    const out = execFileSync("lscpu", { encoding: "utf8" });
    const model = /Model name:\s*(.+)/.exec(out)?.[1]?.trim() ?? "?";
    const flags = new Set(/Flags:\s*(.+)/.exec(out)?.[1]?.split(/\s+/) ?? []);
    const vector = ["sse4_1", "avx", "avx2", "avx512f", "avx_vnni", "avx512_vnni"].filter((f) =>
      flags.has(f),
    );
    return `${model} (${vector.join(" ")}), ${execFileSync("nproc", { encoding: "utf8" }).trim()} logical cores`;
  } catch {
    return "?";
  }
};
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

/**
 * `TENSORS` F32 matrices of SIDE × SIDE from a seeded generator (mulberry32), so every
 * run and every machine summarizes the same bytes; each tensor has its own scale, so
 * the per-tensor numbers differ.
 */
function model(dir) {
  let seed = 0x9e3779b9;
  const uniform = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const per = SIDE * SIDE;
  const tensors = Array.from({ length: TENSORS }, (_, t) => ({
    name: `layers.${t}.weight`,
    shape: [SIDE, SIDE],
  }));
  return writeSafetensors(join(dir, "bench.safetensors"), tensors, (i) => {
    const scale = 0.02 * (1 + (Math.floor(i / per) % 5));
    return (uniform() * 2 - 1) * scale;
  });
}

/** A browser with the page at `workers` workers, the model open and summarized once. */
async function prepare(url, file, workers) {
  const browser = await launch();
  const { page } = browser;
  page.setDefaultTimeout(600_000);
  await page.goto(`${url}?workers=${workers}&schemes=${SCHEMES.join(",")}`);
  await waitForModel(page, "demo.safetensors");
  await page.waitForSelector('#summary[data-state="done"]');
  const name = file.split("/").pop();
  // Open (every worker reads and parses the file itself) and the first summary.
  const t0 = Date.now();
  await page.setInputFiles("#file-input", file);
  await page.waitForFunction(
    (n) =>
      document.getElementById("model-name").textContent.startsWith(n) &&
      document.getElementById("summary").dataset.state === "done",
    name,
    { polling: 50 },
  );
  const first = Date.now() - t0;
  const build = await page.getAttribute("#build-info", "data-build");
  return { browser, page, workers, first, build, runs: [], perWorker: "" };
}

/**
 * The summary alone, the model open in every worker: Run again, timed by the page.
 * Waited for with a MutationObserver inside the page rather than Playwright's waits,
 * whose requestAnimationFrame polling keeps the page's main thread rendering frames
 * (measured: 80-95 % of a core, on a machine of two) and starves the workers.
 */
async function rerun(c) {
  const ms = await c.page.evaluate(
    () =>
      new Promise((resolve) => {
        const table = document.getElementById("summary");
        const observer = new MutationObserver(() => {
          if (table.dataset.state === "done" && table.dataset.elapsedMs !== undefined) {
            observer.disconnect();
            resolve(Number(table.dataset.elapsedMs));
          }
        });
        observer.observe(table, { attributes: true, attributeFilter: ["data-state", "data-elapsed-ms"] });
        document.getElementById("rerun-summary").click();
      }),
  );
  c.runs.push(ms);
  c.perWorker = await c.page.getAttribute("#summary", "data-rows-per-worker");
}

/**
 * What this machine gives two workers right now, whatever our code does: the same
 * integer loop in one worker, then split over two. On a loaded machine (other builds
 * on both cores) this ratio, not the pool, limits the speed-up.
 */
async function machineCheck() {
  const browser = await launch();
  try {
    return await browser.page.evaluate(async () => {
      const src = `onmessage = (e) => { const n = e.data; let x = 0; for (let i = 0; i < n; i++) x = (x * 1103515245 + 12345) | 0; postMessage(x); }`;
      const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
      const ws = [new Worker(url), new Worker(url)];
      const run = (w, n) =>
        new Promise((resolve) => {
          w.onmessage = resolve;
          w.postMessage(n);
        });
      await Promise.all(ws.map((w) => run(w, 1e6)));
      let t = performance.now();
      await run(ws[0], 4e8);
      const one = performance.now() - t;
      t = performance.now();
      await Promise.all(ws.map((w) => run(w, 2e8)));
      const two = performance.now() - t;
      return { one: Math.round(one), two: Math.round(two) };
    });
  } finally {
    await browser.close();
  }
}

// dist/ from the www/pkg and www/pkg-relaxed there are now (`npm run bench` rebuilds those).
execFileSync("npx", ["vite", "build", "--logLevel", "warn"], { cwd: ROOT, stdio: "inherit" });
const scratch = mkdtempSync(join(tmpdir(), "quantscope-bench-"));
const server = await serveDist();
try {
  const file = model(scratch);
  const mb = (statSync(file).size / 2 ** 20).toFixed(0);
  console.log(
    `model: ${TENSORS} × F32 [${SIDE}, ${SIDE}] safetensors, ${mb} MiB; schemes ${SCHEMES.join(", ")}`,
  );
  console.log(`cpu: ${cpu()}; load before: ${load()}`);
  const check = await machineCheck();
  console.log(
    `machine check, an integer loop: 1 worker ${check.one} ms, split over 2 ${check.two} ms ` +
      `(${(check.one / check.two).toFixed(2)}×)`,
  );
  const results = [];
  try {
    for (const w of WORKERS) results.push(await prepare(server.url, file, w));
    // Alternating, so that whatever else loads the machine weighs on every count alike;
    // a page that is not running sits idle.
    for (let r = 0; r < RUNS; r++) for (const c of results) await rerun(c);
  } finally {
    for (const c of results) await c.browser.close();
  }
  for (const r of results)
    console.log(
      `${r.workers} worker(s), ${r.build}: summary runs ${r.runs.join(", ")} ms (median ${median(r.runs)}), ` +
        `open + first summary ${r.first} ms, rows per worker ${r.perWorker}`,
    );
  console.log(`load after: ${load()}`);
  const base = median(results[0].runs);
  console.log(
    `\n| workers | summary, median of ${RUNS} (ms) | runs (ms) | speed-up | open + first summary (ms) |`,
  );
  console.log("|---:|---:|---|---:|---:|");
  for (const r of results)
    console.log(
      `| ${r.workers} | ${median(r.runs)} | ${r.runs.join(", ")} | ${(base / median(r.runs)).toFixed(2)}× | ${r.first} |`,
    );
} finally {
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
}
