// The worker pool and the wasm build: the whole-model table is the same, row for row,
// with one worker, with two, and from the CLI; `?workers=` and the control set the pool;
// Cancel stops every worker; the header says which build runs, relaxed SIMD where the
// browser validates it and the app has it, SIMD128 otherwise or when `?build=simd128`.

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  DIST,
  assertNoProblems,
  bySummaryKey,
  cliSummary,
  launch,
  openApp,
  serveDist,
  summaryRows,
  waitForModel,
  writeSafetensors,
} from "./harness.mjs";

/** `int3-sym-ch1` has no axis 1 on the vectors: those rows carry the core's message. */
const SCHEMES = ["int8-sym", "int4-asym-ch0", "int3-sym-ch1"];

let server;
let browser;
let scratch;
before(async () => {
  server = await serveDist();
  browser = await launch();
  scratch = mkdtempSync(join(tmpdir(), "quantscope-pool-"));
});
after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * A model with enough work for both workers to join: `count` tensors, matrices of
 * `side` × `side` and every eighth a vector (a failure row under a per-channel scheme
 * on axis 1), deterministic values.
 */
function poolModel(count, name, side) {
  const tensors = Array.from({ length: count }, (_, t) => ({
    name: `blocks.${String(t).padStart(4, "0")}.${t % 8 === 7 ? "bias" : "weight"}`,
    shape: t % 8 === 7 ? [side * 8] : [side, side],
  }));
  writeSafetensors(join(scratch, name), tensors, (i) => Math.sin(i * 0.37) * (1 + ((i * 7) % 11)));
  return { file: join(scratch, name), names: tensors.map((t) => t.name) };
}

/** Rows delivered by each worker in the last run, from #summary's data-rows-per-worker. */
async function rowsPerWorker(page) {
  const v = await page.getAttribute("#summary", "data-rows-per-worker");
  return v.split(",").map(Number);
}

/** Opens `file` in the page at `query` and waits until its whole-model table is done. */
async function summarizeFile(page, query, file) {
  await openApp(page, `${server.url}?${query}`);
  await page.setInputFiles("#file-input", file);
  await waitForModel(page, file.split("/").pop());
  await page.waitForFunction(
    (name) =>
      document.getElementById("model-name").textContent.startsWith(name) &&
      document.getElementById("summary").dataset.state === "done",
    file.split("/").pop(),
    { timeout: 60_000 },
  );
  return summaryRows(page);
}

test("the whole-model table is the same with 1 worker, with 2, and from the CLI", async () => {
  const { page } = browser;
  const { file, names } = poolModel(240, "pool.safetensors", 64);
  const query = `schemes=${SCHEMES.join(",")}`;

  const one = await summarizeFile(page, `workers=1&${query}`, file);
  assert.equal(await page.inputValue("#workers"), "1");
  assert.equal(await page.getAttribute("#summary", "data-workers"), "1");
  assert.deepEqual(await rowsPerWorker(page), [one.length]);

  const two = await summarizeFile(page, `workers=2&${query}`, file);
  assert.equal(await page.inputValue("#workers"), "2");
  assert.equal(await page.getAttribute("#summary", "data-workers"), "2");
  const shared = await rowsPerWorker(page);
  assert.equal(shared.length, 2);
  assert.equal(shared[0] + shared[1], two.length, "every row came from one of the two workers");
  assert.ok(
    shared.every((n) => n > 0),
    `both workers computed rows (${shared})`,
  );

  assert.equal(one.length, names.length * SCHEMES.length, "one row per tensor × scheme");
  // Same rows in the same (model, then chip) order, every data-value equal.
  assert.deepEqual(two, one);
  const expected = cliSummary(file, names, SCHEMES);
  assert.ok(
    [...expected.values()].some((e) => e.error),
    "some rows are failures, to show they merge too",
  );
  assert.deepEqual(bySummaryKey(two), expected);
  assertNoProblems(assert, page);
});

test("Cancel with 2 workers stops both; Run again finishes on the pool", async () => {
  const { page } = browser;
  const { file } = poolModel(3000, "long.safetensors", 16);
  const schemes = ["int8-sym", "int4-asym"];
  const total = 3000 * schemes.length;
  await openApp(page, `${server.url}?workers=2&schemes=${schemes.join(",")}`);
  await page.waitForSelector('#summary[data-state="done"]');
  // Cancel from inside the page once both workers have delivered rows for the new model.
  await page.evaluate(() => {
    const table = document.getElementById("summary");
    const observer = new MutationObserver(() => {
      const opened = document.getElementById("model-name").textContent.startsWith("long.safetensors");
      const counts = (table.dataset.rowsPerWorker ?? "").split(",").map(Number);
      if (opened && counts.length === 2 && counts.every((n) => n >= 5)) {
        observer.disconnect();
        document.getElementById("cancel-summary").click();
      }
    });
    observer.observe(table, { attributes: true, attributeFilter: ["data-rows-per-worker"] });
  });
  await page.setInputFiles("#file-input", file);
  await page.waitForSelector('#summary[data-state="cancelled"]', { timeout: 60_000 });
  const done = await page.$eval("#progress", (p) => p.value);
  const shared = await rowsPerWorker(page);
  assert.ok(
    shared.every((n) => n >= 5),
    `both workers were running when cancelled (${shared})`,
  );
  assert.ok(done < total, `cancelled part-way (${done} of ${total})`);
  assert.equal(shared[0] + shared[1], done);
  // "cancelled" is shown once every worker's call has returned; nothing arrives after.
  await page.waitForTimeout(500);
  assert.equal(await page.$eval("#progress", (p) => p.value), done, "no row arrived after the cancel");
  assert.equal(await page.getAttribute("#summary", "data-rows-per-worker"), shared.join(","));

  await page.click("#rerun-summary");
  await page.waitForSelector('#summary[data-state="done"]', { timeout: 120_000 });
  assert.equal((await summaryRows(page)).length, total);
  assert.ok((await rowsPerWorker(page)).every((n) => n > 0));
  assertNoProblems(assert, page);
});

test("the Workers control resizes the pool, keeps the URL, and reruns from the rows it has", async () => {
  const { page } = browser;
  await openApp(page, `${server.url}?workers=2&schemes=int8-sym`);
  await page.waitForSelector('#summary[data-state="done"]');
  const options = await page.$$eval("#workers option", (os) => os.map((o) => o.value));
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  assert.deepEqual(
    options,
    Array.from({ length: Math.min(16, cores) }, (_, i) => String(i + 1)),
    "one choice per core",
  );
  const before = await summaryRows(page);

  await page.selectOption("#workers", "1");
  assert.equal(new URL(page.url()).searchParams.get("workers"), "1");
  assert.deepEqual(new URL(page.url()).searchParams.get("schemes"), "int8-sym", "the rest of the URL stays");
  await page.click("#rerun-summary");
  await page.waitForSelector('#summary[data-state="done"][data-workers="1"]');
  assert.deepEqual(await summaryRows(page), before);

  // Reloaded, the link keeps one worker.
  await openApp(page, page.url());
  assert.equal(await page.inputValue("#workers"), "1");
  assertNoProblems(assert, page);
});

test("a bad ?workers= is named, and the default pool is used", async () => {
  const { page } = browser;
  await openApp(page, `${server.url}?workers=two`);
  await page.waitForSelector('#summary[data-state="done"]');
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  assert.match(await page.textContent("#error"), /URL workers "two": not a whole number of at least 1/);
  assert.equal(await page.inputValue("#workers"), String(Math.min(4, cores)));

  // More workers than cores: as many as there are cores, without a word.
  await openApp(page, `${server.url}?workers=64`);
  await page.waitForSelector('#summary[data-state="done"]');
  assert.equal(await page.inputValue("#workers"), String(Math.min(16, cores)));
  assert.equal(await page.isHidden("#error"), true);
  assertNoProblems(assert, page);
});

/** True when dist/ was built with www/pkg-relaxed: two wasm-bindgen glue chunks, one per build. */
function distHasRelaxed() {
  const glue = readdirSync(join(DIST, "assets")).filter((f) => /^quantscope-.*\.js$/.test(f));
  assert.ok(glue.length === 1 || glue.length === 2, `dist/assets has ${glue.length} glue chunks`);
  return glue.length === 2;
}

async function badge(page) {
  return page.$eval("#build-info", (el) => ({ ...el.dataset, text: el.textContent }));
}

test("the header names the build: relaxed SIMD where Chromium validates it and the app has it", async () => {
  const { page } = browser;
  const bundled = distHasRelaxed();
  await openApp(page, `${server.url}?schemes=${SCHEMES.join(",")}`);
  await page.waitForSelector('#summary[data-state="done"]');
  const b = await badge(page);
  // Chromium has shipped relaxed SIMD since version 114.
  assert.equal(b.relaxedSupported, "true", "Chromium validates i32x4.relaxed_dot_i8x16_i7x16_add_s");
  assert.equal(b.relaxedBundled, String(bundled));
  assert.equal(b.build, bundled ? "relaxed" : "simd128");
  assert.match(b.text, bundled ? /WebAssembly relaxed SIMD kernels/ : /WebAssembly SIMD128 kernels/);
  const auto = await summaryRows(page);

  // Forced to SIMD128: the same rows (relaxed SIMD is used only where it is exact).
  await openApp(page, `${server.url}?build=simd128&schemes=${SCHEMES.join(",")}`);
  await page.waitForSelector('#summary[data-state="done"]');
  const forced = await badge(page);
  assert.equal(forced.build, "simd128");
  assert.equal(forced.relaxedSupported, "true");
  assert.match(forced.text, /WebAssembly SIMD128 kernels/);
  assert.deepEqual(await summaryRows(page), auto);
  assertNoProblems(assert, page);
});

test("a browser without relaxed SIMD gets the SIMD128 build", async () => {
  // Chromium cannot turn relaxed SIMD off, so its workers are served a WebAssembly.validate
  // that rejects every module: what a browser without the feature answers for the probe.
  const other = await launch();
  try {
    const { page, context } = other;
    const worker = readdirSync(join(DIST, "assets")).find((f) => /^worker-.*\.js$/.test(f));
    assert.ok(worker, "dist/assets has the worker");
    await context.route(`**/assets/${worker}`, (route) =>
      route.fulfill({
        contentType: "text/javascript",
        body: `WebAssembly.validate = () => false;\n${readFileSync(join(DIST, "assets", worker), "utf8")}`,
      }),
    );
    await openApp(page, `${server.url}?workers=2`);
    await page.waitForSelector('#summary[data-state="done"]');
    const b = await badge(page);
    assert.equal(b.relaxedSupported, "false");
    assert.equal(b.build, "simd128");
    assert.match(b.text, /WebAssembly SIMD128 kernels/);
    assertNoProblems(assert, page);
  } finally {
    await other.close();
  }
});

test("a bad ?build= is named, and the best build is used", async () => {
  const { page } = browser;
  await openApp(page, `${server.url}?build=fast`);
  assert.match(await page.textContent("#error"), /URL build "fast": expected "simd128" or "auto"/);
  assert.equal((await badge(page)).build, distHasRelaxed() ? "relaxed" : "simd128");
  assertNoProblems(assert, page);
});

/** Polls `page.workers()` (Playwright's live dedicated workers) until `ok(n)`. */
async function workersUntil(page, ok, what) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const n = page.workers().length;
    if (ok(n)) return n;
    if (Date.now() > deadline) throw new Error(`${what}: ${n} workers live`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("moving the playground keeps its workers; removing it ends them; adding it again starts afresh", async () => {
  const { page } = browser;
  await openApp(page, `${server.url}?workers=2`);
  // Two compute workers and the training lab's (the panels start theirs on demand).
  const live = await workersUntil(page, (n) => n >= 3, "after opening");

  // A move is a disconnect and a connect in one task: nothing ends, the view stays.
  await page.evaluate(() => {
    const el = document.querySelector("quantscope-playground");
    const box = document.createElement("div");
    box.id = "moved";
    document.body.append(box);
    box.append(el);
  });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(page.workers().length, live, "a move ends no worker");
  assert.match(await page.textContent("#moved #model-name"), /^demo\.safetensors \(/);

  await page.evaluate(() => document.querySelector("quantscope-playground").remove());
  await workersUntil(page, (n) => n === 0, "after removal");

  await page.evaluate(() => {
    const el = document.createElement("quantscope-playground");
    el.setAttribute("src", "demo.safetensors");
    el.setAttribute("workers", "1");
    document.body.append(el);
  });
  await waitForModel(page, "demo.safetensors");
  await page.waitForSelector('#summary[data-state="done"]');
  assert.equal(await page.getAttribute("#summary", "data-workers"), "1");
  await workersUntil(page, (n) => n >= 2, "after adding it again");
  assertNoProblems(assert, page);
});
