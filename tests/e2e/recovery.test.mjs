// The page survives its worker: when the wasm module traps for real (a panic, an
// allocation that cannot be met, an `unreachable` instruction, armed through the core's
// fault injector src/wasm/debug.rs), the worker is replaced, the error names the tensor
// and scheme, the model stays open, and the whole-model table completes on the pool with
// only the trapping row failed.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  bySummaryKey,
  cliMetrics,
  cliSummary,
  launch,
  openApp,
  pageMetrics,
  serveDist,
  summaryRows,
  summaryKey,
  waitForAnalysis,
  waitForModel,
  writeSafetensors,
} from "./harness.mjs";

let server;
let browser;
let scratch;
before(async () => {
  server = await serveDist();
  browser = await launch();
  scratch = mkdtempSync(join(tmpdir(), "quantscope-recovery-"));
});
after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** The page's workers that have loaded the core (the fault injector is set on load). */
async function liveWorkers(page, count) {
  let found = [];
  for (let i = 0; i < 200; i++) {
    found = [];
    for (const w of page.workers()) {
      const ok = await w.evaluate(() => "quantscopeDebug" in self).catch(() => false);
      if (ok) found.push(w);
    }
    if (found.length === count) return found;
    await page.waitForTimeout(50);
  }
  throw new Error(`expected ${count} workers with the core loaded, found ${found.length}`);
}

function arm(worker, tensor, scheme, kind) {
  return worker.evaluate(([t, s, k]) => self.quantscopeDebug.trapOn(t, s, k), [tensor, scheme, kind]);
}

/** Problems other than the trap's own console lines (the panic hook logs the panic). */
function unexpected(page) {
  return page.problems.filter((p) => !/debug trap|panicked|RuntimeError|unreachable/.test(p));
}

test("a trap in the tensor view names tensor and scheme; the worker restarts, the model stays open", async () => {
  const { page } = browser;
  const schemes = ["int8-sym-ch0", "q4_0"];
  await openApp(page, `${server.url}?workers=1&schemes=${schemes.join(",")}`);
  await page.waitForSelector('#summary[data-state="done"]', { timeout: 60_000 });
  const names = await page.$$eval("#tensor-list tbody tr", (trs) => trs.map((tr) => tr.dataset.name));
  const selected = await page.$eval("#detail", (el) => el.dataset.tensor);
  const others = names.filter((n) => n !== selected);
  assert.ok(others.length >= 2);
  for (const [i, kind] of ["panic", "alloc", "unreachable"].entries()) {
    const target = others[i % others.length];
    const [worker] = await liveWorkers(page, 1);
    await arm(worker, target, "q4_0", kind);
    // The banner keeps the last message until a model opens: empty it to see the next.
    await page.$eval("#error", (el) => {
      el.textContent = "";
      el.hidden = true;
    });
    await page.click(`#tensor-list tbody tr[data-name=${JSON.stringify(target)}]`);
    await page.waitForSelector("#error:not([hidden])", { timeout: 60_000 });
    const message = await page.textContent("#error");
    assert.match(message, /trapped/, `${kind}: ${message}`);
    assert.ok(message.includes(`\`${target}\``) && message.includes("q4_0"), `${kind}: ${message}`);
    assert.match(message, /the worker was restarted and demo\.safetensors is open again/, message);
    if (kind === "panic") assert.match(message, /debug trap: panic/, "the panic's own message");

    // A fresh worker in its place, the model still open: the same tensor now analyses,
    // with the CLI's numbers.
    await liveWorkers(page, 1);
    assert.ok((await page.textContent("#model-name")).startsWith("demo.safetensors ("));
    const again = others[(i + 1) % others.length];
    await page.click(`#tensor-list tbody tr[data-name=${JSON.stringify(again)}]`);
    await waitForAnalysis(page, again, schemes);
    await page.click(`#tensor-list tbody tr[data-name=${JSON.stringify(target)}]`);
    await waitForAnalysis(page, target, schemes);
    const shown = await pageMetrics(page);
    assert.deepEqual(shown.q4_0, cliMetrics(target, "q4_0"), `${kind}: ${target} after the restart`);
  }
  assert.deepEqual(unexpected(page), []);
  page.problems.length = 0;
});

test("a trap during the whole-model table: the pool replaces the worker and the table completes", async () => {
  const { page } = browser;
  const tensors = Array.from({ length: 96 }, (_, t) => ({ name: `layer.${t}.weight`, shape: [48, 64] }));
  const file = writeSafetensors(join(scratch, "trap.safetensors"), tensors, (i) => Math.sin(i * 0.13) * 3);
  const schemes = ["int8-sym", "int4-asym-ch0"];
  await openApp(page, `${server.url}?workers=2&schemes=${schemes.join(",")}`);
  await page.waitForSelector('#summary[data-state="done"]', { timeout: 60_000 });
  const workers = await liveWorkers(page, 2);
  // Armed in both: whichever worker is handed this task traps on it.
  const target = tensors[57].name;
  for (const w of workers) await arm(w, target, "int4-asym-ch0", "unreachable");
  await page.setInputFiles("#file-input", file);
  await waitForModel(page, "trap.safetensors");
  await page.waitForFunction(
    () =>
      document.getElementById("model-name").textContent.startsWith("trap.safetensors") &&
      document.getElementById("summary").dataset.state === "done",
    undefined,
    { timeout: 60_000 },
  );
  const rows = bySummaryKey(await summaryRows(page));
  assert.equal(rows.size, tensors.length * schemes.length, "every row is there");
  const failed = rows.get(summaryKey(target, "int4-asym-ch0"));
  assert.ok(failed.error, "the trapping row is a failure");
  assert.match(failed.error, /trapped/);
  assert.ok(failed.error.includes(`\`${target}\``) && failed.error.includes("int4-asym-ch0"), failed.error);
  // Every other row equals the CLI's: the undone tasks ran on the replacement worker.
  const expected = cliSummary(
    file,
    tensors.map((t) => t.name),
    schemes,
  );
  expected.delete(summaryKey(target, "int4-asym-ch0"));
  rows.delete(summaryKey(target, "int4-asym-ch0"));
  assert.deepEqual(rows, expected);
  assert.equal(await page.getAttribute("#summary", "data-workers"), "2");
  await liveWorkers(page, 2);

  // The model is still open: run again (the worker that did not trap disarmed), and the
  // row that trapped now computes.
  for (const w of await liveWorkers(page, 2)) await w.evaluate(() => self.quantscopeDebug.trapOff());
  await page.click("#rerun-summary");
  await page.waitForFunction(() => document.getElementById("summary").dataset.state === "done", undefined, {
    timeout: 60_000,
  });
  const full = bySummaryKey(await summaryRows(page));
  assert.deepEqual(
    full,
    cliSummary(
      file,
      tensors.map((t) => t.name),
      schemes,
    ),
  );
  assert.deepEqual(unexpected(page), []);
});
