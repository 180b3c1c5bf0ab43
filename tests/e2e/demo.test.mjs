// The page opens the built-in demo, draws its charts and shows, for a tensor and a
// scheme, exactly the metrics the native CLI computes.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  DEMO,
  DIST,
  ROOT,
  assertNoProblems,
  chartCounts,
  cliJson,
  launch,
  openApp,
  serveDist,
  tensorRows,
  waitForAnalysis,
} from "./harness.mjs";

const METRICS = ["mse", "sqnr_db", "cosine", "max_abs_error"];

let server;
let browser;
before(async () => {
  server = await serveDist();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

/** The page's data-value for each metric cell. */
function pageMetrics(page) {
  return page.$$eval("#metrics td[data-metric]", (tds) =>
    Object.fromEntries(tds.map((td) => [td.dataset.metric, td.dataset.value])),
  );
}

/** What the page must show for `tensor` under `scheme`, as the CLI prints it. */
function cliMetrics(tensor, scheme) {
  const rows = cliJson(["quantize", DEMO, "--scheme", scheme, "--tensor", tensor]);
  assert.equal(rows.length, 1, "the CLI printed one row for one --tensor");
  const [row] = rows;
  assert.equal(row.name, tensor);
  const expected = { bits_per_weight: String(row.bits_per_weight), packed_bytes: String(row.packed_bytes) };
  // JSON has no Infinity: the CLI prints null for the SQNR of an exact reconstruction.
  for (const k of METRICS) expected[k] = String(row.metrics[k] ?? Infinity);
  return expected;
}

test("dist serves the same demo model the CLI reads", () => {
  assert.ok(
    readFileSync(join(DIST, "demo.safetensors")).equals(readFileSync(DEMO)),
    "dist/ is stale: run `npm run build`",
  );
});

test("demo opens with SIMD128 wasm, a tensor list and charts", async () => {
  const { page } = browser;
  await openApp(page, server.url);
  await page.waitForSelector('#build-info[data-simd128="true"]');
  assert.match(await page.textContent("#build-info"), /SIMD128/);
  assert.match(await page.textContent("header"), /never leave/);

  const rows = await tensorRows(page);
  const inspected = cliJson(["inspect", DEMO]);
  assert.deepEqual(
    rows,
    inspected.tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype })),
    "the tensor list is the CLI's inspect list",
  );

  // Default scheme is per-channel: all three charts, with marks in them.
  const c = await chartCounts(page);
  assert.ok(c.weightBars >= 20, `weight histogram has ${c.weightBars} bars`);
  assert.ok(c.errorBars >= 20, `error histogram has ${c.errorBars} bars`);
  assert.ok(c.levels >= 255, `int8 grid has ${c.levels} levels`);
  assert.equal(c.gridRules, c.levels, "one grid rule per level");
  assert.equal(c.scalesHidden, false, "per-channel scheme shows the scales plot");
  assert.equal(c.scalesPaths, 1, "scales plot has its line");
  assert.match(await page.textContent("#grid-note"), /channel \d+/);
  assertNoProblems(assert, page);
});

for (const scheme of ["int8-sym-ch0", "int8-asym", "int4-sym"]) {
  test(`metrics for ${scheme} equal the CLI's exactly`, async () => {
    const { page } = browser;
    await openApp(page, `${server.url}?scheme=${scheme}`);
    assert.equal(await page.inputValue("#scheme-text"), scheme);
    // A matrix: per-channel and per-tensor then differ.
    const rows = await tensorRows(page);
    const matrices = rows.filter((r) => r.shape.length >= 2);
    assert.ok(matrices.length >= 2, "the demo has at least two matrices");
    const tensor = matrices[1].name;
    await page.click(`#tensor-list tr[data-name=${JSON.stringify(tensor)}]`);
    await waitForAnalysis(page, tensor, scheme);
    assert.deepEqual(await pageMetrics(page), cliMetrics(tensor, scheme));
    const perChannel = scheme.includes("-ch");
    assert.equal((await chartCounts(page)).scalesHidden, !perChannel);
    assertNoProblems(assert, page);
  });
}

test("scheme picker: presets, validated text, and the URL", async () => {
  const { page } = browser;
  await openApp(page, server.url);
  const options = await page.$$eval("#scheme option", (os) => os.map((o) => o.value));
  for (const p of ["int8-sym-ch0", "int8-sym", "int8-asym", "int8-asym-ch0"])
    assert.ok(options.includes(p), `preset ${p}`);

  const tensor = await page.getAttribute("#detail", "data-tensor");
  await page.selectOption("#scheme", "int8-asym-ch0");
  await waitForAnalysis(page, tensor, "int8-asym-ch0");
  assert.equal(new URL(page.url()).searchParams.get("scheme"), "int8-asym-ch0");
  assert.deepEqual(await pageMetrics(page), cliMetrics(tensor, "int8-asym-ch0"));

  // Invalid text: the core's message, and nothing else changes.
  await page.fill("#scheme-text", "int9-sym");
  await page.press("#scheme-text", "Enter");
  await page.waitForFunction(() => document.getElementById("scheme-error")?.textContent !== "");
  assert.match(await page.textContent("#scheme-error"), /9/);
  assert.equal(await page.getAttribute("#detail", "data-scheme"), "int8-asym-ch0");
  assert.equal(new URL(page.url()).searchParams.get("scheme"), "int8-asym-ch0");

  // Valid custom text applies, and a reload restores it from the URL.
  await page.fill("#scheme-text", "int3-asym-ch0");
  await page.press("#scheme-text", "Enter");
  await waitForAnalysis(page, tensor, "int3-asym-ch0");
  assert.equal(await page.textContent("#scheme-error"), "");
  assert.equal((await chartCounts(page)).levels, 8, "a 3-bit grid has 8 levels");
  await page.reload();
  await page.waitForSelector('#detail[aria-busy="false"][data-scheme="int3-asym-ch0"]');
  assert.equal(await page.inputValue("#scheme-text"), "int3-asym-ch0");
  assertNoProblems(assert, page);
});

test("screenshot for the README", async () => {
  const { page } = browser;
  await page.setViewportSize({ width: 1280, height: 900 });
  await openApp(page, `${server.url}?scheme=int4-asym-ch0`);
  await page.waitForSelector('#summary[data-state="done"]');
  mkdirSync(join(ROOT, "docs"), { recursive: true });
  await page.screenshot({ path: join(ROOT, "docs", "screenshot.png") });
  assertNoProblems(assert, page);
});
