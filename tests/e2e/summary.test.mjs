// The whole-model table: one row per tensor × scheme with the CLI's numbers (or the
// core's message where a scheme does not apply to a tensor), sortable, with progress to
// 100 %; schemes added or removed change only their rows; a long run can be cancelled.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  DEMO,
  assertNoProblems,
  bySummaryKey,
  chips,
  cliSummary,
  launch,
  openApp,
  serveDist,
  summaryRows,
  tensorRows,
  writeSafetensors,
} from "./harness.mjs";

/**
 * The schemes of the whole-model test; adding a family is adding its string here.
 * `int3-sym-ch1` has no axis 1 on the demo's vectors: those rows carry the core's message.
 */
const SCHEMES = ["int4-asym-ch0", "int8-sym", "int3-sym-ch1"];

let server;
let browser;
let scratch;
before(async () => {
  server = await serveDist();
  browser = await launch();
  scratch = mkdtempSync(join(tmpdir(), "quantscope-summary-"));
});
after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * A safetensors file of `count` small F32 tensors with deterministic values: enough
 * tensors that the summary takes a while, small enough to write in milliseconds.
 */
function manyTensors(count, numel) {
  const tensors = Array.from({ length: count }, (_, t) => ({
    name: `layer${String(t).padStart(5, "0")}.weight`,
    shape: [numel / 16, 16],
  }));
  return writeSafetensors(
    join(scratch, "many.safetensors"),
    tensors,
    (i) => Math.sin(i * 0.7) * (1 + (i % 13)),
  );
}

test(`summary of the demo under ${SCHEMES.join(", ")}: every tensor × scheme, the CLI's numbers, sorted`, async () => {
  const { page } = browser;
  await openApp(page, `${server.url}?schemes=${SCHEMES.join(",")}`);
  await page.waitForSelector('#summary[data-state="done"]');
  assert.deepEqual(await chips(page), SCHEMES);

  const tensors = await tensorRows(page);
  const total = tensors.length * SCHEMES.length;
  const progress = await page.$eval("#progress", (p) => ({ value: p.value, max: p.max }));
  assert.deepEqual(progress, { value: total, max: total }, "progress reached 100 %");
  assert.match(await page.textContent("#progress-text"), new RegExp(`${total} / ${total}`));
  assert.equal(await page.isDisabled("#cancel-summary"), true, "nothing left to cancel");

  // What the CLI says of each tensor under each scheme, one call per pair.
  const expected = cliSummary(
    DEMO,
    tensors.map((t) => t.name),
    SCHEMES,
  );
  assert.ok(
    [...expected.values()].some((e) => e.error),
    "some tensor × scheme fails, to show the failure rows",
  );
  const rows = await summaryRows(page);
  assert.equal(rows.length, total, "one row per tensor × scheme");
  assert.deepEqual(bySummaryKey(rows), expected);

  // Unsorted, a tensor's schemes sit together in chip order.
  assert.deepEqual(
    rows.slice(0, SCHEMES.length).map((r) => [r.name, r.scheme]),
    SCHEMES.map((s) => [tensors[0].name, s]),
  );

  // Sorting by SQNR: ascending, then descending on a second click; failed rows last.
  const sqnr = async () => (await summaryRows(page)).map((r) => (r.error ? null : Number(r.sqnr_db)));
  const failures = rows.filter((r) => r.error).length;
  const sorted = (xs, dir) => [...xs.filter((x) => x !== null)].sort((a, b) => dir * (a - b));
  await page.click('#summary th[data-key="sqnr_db"] button');
  const up = await sqnr();
  assert.deepEqual(up, [...sorted(up, 1), ...Array(failures).fill(null)]);
  assert.equal(await page.getAttribute('#summary th[data-key="sqnr_db"]', "aria-sort"), "ascending");
  await page.click('#summary th[data-key="sqnr_db"] button');
  const down = await sqnr();
  assert.deepEqual(down, [...sorted(down, -1), ...Array(failures).fill(null)]);
  assert.notDeepEqual(up, down, "the demo's rows differ in SQNR");

  // A summary row selects its tensor.
  const pick = (await summaryRows(page)).find((r) => r.name !== tensors[0].name).name;
  await page.click(`#summary tr[data-name=${JSON.stringify(pick)}] td`);
  await page.waitForSelector(`#detail[aria-busy="false"][data-tensor=${JSON.stringify(pick)}]`);

  // Removing a scheme drops its rows at once; adding it back computes that pass alone.
  const [, dropped] = SCHEMES;
  const kept = SCHEMES.filter((s) => s !== dropped);
  await page.click(`#scheme-chips [data-scheme=${JSON.stringify(dropped)}] .chip-remove`);
  await page.waitForSelector('#summary[data-state="done"]');
  const after = await summaryRows(page);
  assert.equal(after.length, tensors.length * kept.length);
  assert.ok(after.every((r) => kept.includes(r.scheme)));
  await page.fill("#scheme-text", dropped);
  await page.press("#scheme-text", "Enter");
  await page.waitForFunction(
    (n) =>
      document.querySelectorAll("#summary tbody tr").length === n &&
      document.getElementById("summary").dataset.state === "done",
    total,
  );
  const again = await summaryRows(page);
  assert.deepEqual(bySummaryKey(again), expected);
  assertNoProblems(assert, page);
});

test("a long summary shows progress and can be cancelled", async () => {
  const { page } = browser;
  const count = 2000;
  const schemes = ["int8-sym", "int4-asym"];
  const total = count * schemes.length;
  const file = manyTensors(count, 256);
  await openApp(page, `${server.url}?schemes=${schemes.join(",")}`);
  await page.waitForSelector('#summary[data-state="done"]');
  // Click Cancel from inside the page as soon as 10 tensors of the new model are done:
  // a click sent from here can arrive after the worker has finished all of them.
  await page.evaluate(() => {
    const progress = document.getElementById("progress");
    const observer = new MutationObserver(() => {
      const opened = document.getElementById("model-name").textContent.startsWith("many.safetensors");
      if (opened && Number(progress.dataset.done) >= 10) {
        observer.disconnect();
        document.getElementById("cancel-summary").click();
      }
    });
    observer.observe(progress, { attributes: true, attributeFilter: ["data-done"] });
  });
  await page.setInputFiles("#file-input", file);
  await page.waitForSelector('#summary[data-state="cancelled"]');
  const done = await page.$eval("#progress", (p) => p.value);
  assert.ok(done >= 10 && done < total, `cancelled part-way (${done} of ${total})`);
  assert.equal(await page.$eval("#progress", (p) => p.max), total, "progress counts tensor × scheme rows");
  assert.equal((await summaryRows(page)).length, done, "the table keeps the rows computed so far");
  assert.match(await page.textContent("#progress-text"), /cancelled/);

  // Run again finishes the whole model.
  await page.click("#rerun-summary");
  await page.waitForSelector('#summary[data-state="done"]', { timeout: 60_000 });
  assert.equal((await summaryRows(page)).length, total);
  assert.deepEqual(await page.$eval("#progress", (p) => [p.value, p.max]), [total, total]);
  assertNoProblems(assert, page);
});
