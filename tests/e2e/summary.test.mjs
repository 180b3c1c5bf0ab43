// The whole-model table: one row per tensor with the CLI's numbers, sortable, with
// progress to 100 %; and a long run can be cancelled.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DEMO, assertNoProblems, cliJson, launch, openApp, serveDist, tensorRows } from "./harness.mjs";

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

/** Rows of #summary in display order: name and each column's data-value. */
function summaryRows(page) {
  return page.$$eval("#summary tbody tr", (trs) =>
    trs.map((tr) => Object.fromEntries([...tr.cells].map((td) => [td.dataset.key, td.dataset.value]))),
  );
}

/**
 * A safetensors file of `count` small F32 tensors with deterministic values: enough
 * tensors that the summary takes a while, small enough to write in milliseconds.
 */
function manyTensors(count, numel) {
  const header = {};
  const data = new Float32Array(count * numel);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.7) * (1 + (i % 13));
  for (let t = 0; t < count; t++) {
    header[`layer${String(t).padStart(5, "0")}.weight`] = {
      dtype: "F32",
      shape: [numel / 16, 16],
      data_offsets: [t * numel * 4, (t + 1) * numel * 4],
    };
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const file = join(scratch, "many.safetensors");
  writeFileSync(file, Buffer.concat([len, Buffer.from(json), Buffer.from(data.buffer)]));
  return file;
}

test("summary of the demo completes with the CLI's numbers and sorts", async () => {
  const { page } = browser;
  const scheme = "int4-asym-ch0";
  await openApp(page, `${server.url}?scheme=${scheme}`);
  await page.waitForSelector('#summary[data-state="done"]');

  const tensors = await tensorRows(page);
  const progress = await page.$eval("#progress", (p) => ({ value: p.value, max: p.max }));
  assert.deepEqual(progress, { value: tensors.length, max: tensors.length }, "progress reached 100 %");
  assert.match(await page.textContent("#progress-text"), new RegExp(`${tensors.length} / ${tensors.length}`));
  assert.equal(await page.isDisabled("#cancel-summary"), true, "nothing left to cancel");

  const rows = await summaryRows(page);
  assert.equal(rows.length, tensors.length, "one row per tensor");
  assert.deepEqual(rows.map((r) => r.name).sort(), tensors.map((t) => t.name).sort());

  const cli = new Map(cliJson(["quantize", DEMO, "--scheme", scheme]).map((r) => [r.name, r]));
  assert.equal(cli.size, rows.length);
  for (const r of rows) {
    const c = cli.get(r.name);
    assert.ok(c, `CLI has ${r.name}`);
    assert.deepEqual(r, {
      name: c.name,
      numel: String(c.numel),
      sqnr_db: String(c.metrics.sqnr_db ?? Infinity),
      cosine: String(c.metrics.cosine),
      mse: String(c.metrics.mse),
      max_abs_error: String(c.metrics.max_abs_error),
      bits_per_weight: String(c.bits_per_weight),
    });
  }

  // Sorting by SQNR: ascending, then descending on a second click.
  const sqnr = async () => (await summaryRows(page)).map((r) => Number(r.sqnr_db));
  await page.click('#summary th[data-key="sqnr_db"] button');
  const up = await sqnr();
  assert.deepEqual(
    up,
    [...up].sort((a, b) => a - b),
  );
  assert.equal(await page.getAttribute('#summary th[data-key="sqnr_db"]', "aria-sort"), "ascending");
  await page.click('#summary th[data-key="sqnr_db"] button');
  const down = await sqnr();
  assert.deepEqual(
    down,
    [...down].sort((a, b) => b - a),
  );
  assert.notDeepEqual(up, down, "the demo's tensors differ in SQNR");

  // A summary row selects its tensor.
  const pick = down[0] === down.at(-1) ? undefined : (await summaryRows(page))[1].name;
  if (pick) {
    await page.click(`#summary tr[data-name=${JSON.stringify(pick)}] td`);
    await page.waitForSelector(`#detail[aria-busy="false"][data-tensor=${JSON.stringify(pick)}]`);
  }
  assertNoProblems(assert, page);
});

test("a long summary shows progress and can be cancelled", async () => {
  const { page } = browser;
  const count = 4000;
  const file = manyTensors(count, 256);
  await openApp(page, server.url);
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
  assert.ok(done >= 10 && done < count, `cancelled part-way (${done} of ${count})`);
  assert.equal((await summaryRows(page)).length, done, "the table keeps the rows computed so far");
  assert.match(await page.textContent("#progress-text"), /cancelled/);

  // Run again finishes the whole model.
  await page.click("#rerun-summary");
  await page.waitForSelector('#summary[data-state="done"]', { timeout: 60_000 });
  assert.equal((await summaryRows(page)).length, count);
  assert.deepEqual(await page.$eval("#progress", (p) => [p.value, p.max]), [count, count]);
  assertNoProblems(assert, page);
});
