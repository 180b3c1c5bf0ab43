// The automatic-mix panel: an ONNX model opened in the page is measured in the search
// worker; moving the budget changes the chosen mix without any call into the worker
// (counted) and within a frame's time; the page's choice for a budget equals
// `quantscope auto --json`'s for the same model, inputs, candidates and budget; the
// mix measured as a whole costs exactly one more measurement; the exports download.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ROOT, assertNoProblems, cliJson, launch, openApp, serveDist, waitForModel } from "./harness.mjs";

const MLP = join(ROOT, "tests/fixtures/auto/mlp.onnx");
const MLP_NPZ = join(ROOT, "tests/fixtures/auto/mlp.npz");
const CANDIDATES = "int8-sym-ch,int4-sym-ch,int4-asym-group128,int3-asym-group64,q8_0,q4_k,nf4,float";

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

async function measure(page) {
  await openApp(page, `${server.url}?build=simd128`);
  await page.setInputFiles("#file-input", MLP);
  await waitForModel(page, "mlp.onnx");
  await page.waitForSelector("#auto:not([hidden])");
  await page.fill("#auto-candidates", CANDIDATES);
  await page.selectOption("#auto-objective", "output");
  await page.setInputFiles("#auto-inputs", MLP_NPZ);
  await page.click("#auto-run");
  await page.waitForFunction(
    () => ["done", "error"].includes(document.getElementById("auto").dataset.state),
    null,
    { timeout: 120_000 },
  );
  assert.equal(
    await page.$eval("#auto", (el) => el.dataset.state),
    "done",
    await page.textContent("#auto-status"),
  );
}

const state = (page) =>
  page.$eval("#auto", (el) => ({
    calls: Number(el.dataset.calls),
    measurements: Number(el.dataset.measurements),
    choice: JSON.parse(el.dataset.choice ?? "[]"),
    budget: Number(el.dataset.budgetBytes),
  }));

async function setBpw(page, bpw) {
  return page.$eval(
    "#auto-bpw",
    (el, v) => {
      const t0 = performance.now();
      el.value = String(v);
      el.dispatchEvent(new Event("input", { bubbles: true }));
      return performance.now() - t0;
    },
    bpw,
  );
}

test("moving the budget changes the mix with no measurement, and the choice is quantscope auto's", async () => {
  const { page } = browser;
  await measure(page);
  const start = await state(page);
  assert.ok(start.measurements > 0);
  const budgets = [3.6, 4, 4.5, 5, 6, 8.5, 12];
  const cli = cliJson([
    "auto",
    MLP,
    "--inputs",
    MLP_NPZ,
    "--candidates",
    CANDIDATES,
    "--budget",
    budgets.map((b) => `${b}bpw`).join(","),
    "--no-check",
  ]);
  const seen = new Set();
  let slowest = 0;
  for (const [i, b] of budgets.entries()) {
    slowest = Math.max(slowest, await setBpw(page, b));
    const s = await state(page);
    // No call into the worker, so no measurement.
    assert.equal(s.calls, start.calls, `budget ${b} bpw called the worker`);
    const want = cli.choices[i];
    assert.equal(s.budget, want.budget_bytes, `budget ${b} bpw in bytes`);
    assert.deepEqual(
      s.choice,
      want.mix ? want.mix.tensors.map((t) => t.scheme) : [],
      `budget ${b} bpw: page vs quantscope auto`,
    );
    seen.add(JSON.stringify(s.choice));
  }
  assert.ok(seen.size >= 3, `the mix changed with the budget (${seen.size} distinct mixes)`);
  console.log(`auto: slowest budget move ${slowest.toFixed(2)} ms (page-side lookup and redraw)`);
  assert.ok(slowest < 250, `a budget move took ${slowest} ms`);
  // The table follows the choice.
  const rows = await page.$$eval("#auto-table tbody tr", (trs) => trs.map((tr) => tr.cells[2].textContent));
  assert.deepEqual(rows, (await state(page)).choice);
  // The chart: the front as a line, uniform points, the chosen mix.
  assert.ok((await page.$$("#chart-auto svg path")).length >= 1);
  // Measuring the mix costs exactly one model run.
  await page.click("#auto-check");
  await page.waitForFunction(
    (n) => Number(document.getElementById("auto").dataset.measurements) > n,
    start.measurements,
  );
  assert.equal((await state(page)).measurements, start.measurements + 1);
  assert.match(await page.textContent("#auto-summary"), /measured -?[0-9.]+ dB/);
  // Exports. ONNX QDQ holds linear codes and GGUF ggml types: a mix of both goes into
  // neither, and the page says which scheme cannot go where.
  const exported = async (format) => {
    await page.selectOption("#auto-format", format);
    await page.$eval("#auto-status", (e) => (e.textContent = ""));
    await page.click("#auto-export");
    await page.waitForFunction(
      (f) =>
        document.getElementById("auto-file").textContent.includes(`.${f}`) ||
        /cannot|fail|error/i.test(document.getElementById("auto-status").textContent),
      format,
    );
    return (await page.textContent("#auto-file")).includes(`.${format}`)
      ? null
      : await page.textContent("#auto-status");
  };
  await setBpw(page, 8.5); // q8_0 with int8 per channel (quantscope auto, above)
  const why = await exported("onnx");
  assert.ok(
    why && why.includes("`q8_0`") && /gguf/i.test(why),
    `ONNX refuses the mixed mix naming q8_0: ${why}`,
  );
  await setBpw(page, 3.6); // every tensor a linear scheme
  assert.equal(await exported("onnx"), null);
  await setBpw(page, 5); // q4_k, q4_k, float
  assert.equal(await exported("gguf"), null);
  // Downloaded by a click, as a user would (the page's CSP lets nothing fetch a blob: URL).
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#auto-policy")]);
  const policy = readFileSync(await dl.path(), "utf8");
  const p = JSON.parse(policy);
  assert.equal(p.format, "quantscope-policy");
  assert.deepEqual(Object.values(p.tensors), (await state(page)).choice);
  assert.match(await page.textContent("#auto-recipes"), /nodes_to_exclude/);
  assertNoProblems(assert, page);
});
