// Load benchmark (issue 14), not a test: the page with the 2.1 GB file of
// `npm run bench:open -- --huge` (scripts/bench/gen_large_model.py --huge: 256 F16
// tensors of 2048 x 2048) and the whole-model table of every tensor x 6 schemes on 2
// workers, in headless Chromium against the built dist/. While it runs, the memory of
// the tab is sampled every 250 ms: the resident set of Chromium's renderer processes
// (the tab and its workers' threads and wasm memories live there; read from
// /proc/<pid>/status, the kernel's count of the pages Chromium holds) and, from
// Chromium's own counters, the JS heap of the page (CDP Performance.getMetrics). Then a
// second run is cancelled after a quarter of the first run's time and the memory sampled again.
//
//   npm run build && node scripts/bench/load.mjs [-- --bound-mib 1536]

import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, launch, serveDist, waitForModel } from "../../tests/e2e/harness.mjs";

const { values: opts } = parseArgs({
  strict: false,
  options: { "bound-mib": { type: "string", default: "1536" } },
});
const BOUND = Number(opts["bound-mib"]) * 2 ** 20;
const SCHEMES = ["int8-sym-ch0", "int8-asym", "int4-asym-group32", "nf4", "fp8-e4m3", "q4_0"];
const PYTHON = join(ROOT, ".venv", "bin", "python");
const GEN = join(ROOT, "scripts", "bench", "gen_large_model.py");
const mib = (b) => (b / 2 ** 20).toFixed(0);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

const { files } = JSON.parse(
  execFileSync(PYTHON, [GEN, join(ROOT, "target", "bench-models"), "--huge"], { encoding: "utf8", cwd: ROOT }),
);
const huge = files.find((f) => f.endsWith("huge.safetensors"));
const hugeBytes = statSync(huge).size;

/** Resident bytes of every Chromium renderer process (the tab; its workers are threads). */
function rendererRss() {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1");
      if (!cmd.includes("chromium") || !cmd.includes("--type=renderer")) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return total;
}

const server = await serveDist();
const browser = await launch();
const { page } = browser;
page.setDefaultTimeout(3_600_000);
const cdp = await page.context().newCDPSession(page);
await cdp.send("Performance.enable");
const jsHeap = async () =>
  (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? 0;

let peak = 0;
let peakHeap = 0;
const sampler = setInterval(async () => {
  peak = Math.max(peak, rendererRss());
  peakHeap = Math.max(peakHeap, await jsHeap().catch(() => 0));
}, 250);

await page.goto(`${server.url}?workers=2&schemes=${SCHEMES.join(",")}`);
await waitForModel(page, "demo.safetensors");
await page.waitForSelector('#summary[data-state="done"]');
const idle = rendererRss();
const t0 = Date.now();
await page.setInputFiles("#file-input", huge);
await page.waitForFunction(
  () =>
    document.getElementById("model-name").textContent.startsWith("huge.safetensors") &&
    document.getElementById("summary").dataset.state === "done",
  undefined,
  { polling: 1000 },
);
const took = Date.now() - t0;
const rows = await page.$$eval("#summary tbody tr", (trs) => trs.length);
const runPeak = peak;
const runHeap = peakHeap;
const afterRun = rendererRss();

// A second run, cancelled a quarter of the way through.
peak = 0;
await page.click("#rerun-summary");
await page.waitForTimeout(took / 4);
const atCancel = rendererRss();
await page.click("#cancel-summary");
await page.waitForSelector('#summary[data-state="cancelled"]');
await page.waitForTimeout(5000);
const afterCancel = rendererRss();
clearInterval(sampler);

const result = {
  file: `${huge} (${(hugeBytes / 1e9).toFixed(2)} GB)`,
  schemes: SCHEMES,
  rows,
  seconds: took / 1000,
  rssIdleMiB: mib(idle),
  rssPeakMiB: mib(runPeak),
  jsHeapPeakMiB: mib(runHeap),
  rssAfterRunMiB: mib(afterRun),
  rssAtCancelMiB: mib(atCancel),
  rssAfterCancelMiB: mib(afterCancel),
  boundMiB: mib(BOUND),
  withinBound: runPeak <= BOUND,
  load: load(),
};
console.log(JSON.stringify(result, null, 2));
await browser.close();
await server.close();
process.exit(result.withinBound ? 0 : 1);
