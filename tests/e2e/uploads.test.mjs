// Every file of the fixture manifest opens through #file-input as the manifest says,
// and every corrupt one gives its error while the open model stays usable; a file
// dropped on the drop zone opens the same way.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  assertNoProblems,
  chartCounts,
  launch,
  openApp,
  readManifest,
  serveDist,
  tensorRows,
  waitForAnalysis,
} from "./harness.mjs";

const manifest = readManifest();
const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

let server;
let browser;
before(async () => {
  server = await serveDist();
  browser = await launch();
  await openApp(browser.page, server.url);
});
after(async () => {
  await browser?.close();
  await server?.close();
});

const openedCount = (page) => page.$eval("#model-name", (el) => Number(el.dataset.opened ?? 0));

/** Uploads a file and waits until it is the open model (not merely the previous one). */
async function upload(page, file) {
  const before = await openedCount(page);
  await page.setInputFiles("#file-input", join(manifest.dir, file));
  await page.waitForFunction(
    (n) => Number(document.getElementById("model-name")?.dataset.opened) > n,
    before,
  );
  await waitForAnalysis(page);
}

/**
 * Drops a file on #drop-zone the way a browser does: dragenter, dragover and drop
 * events whose DataTransfer carries the file's bytes.
 */
async function drop(page, file) {
  const bytes = [...readFileSync(join(manifest.dir, file))];
  await page.evaluate(
    ({ name, bytes }) => {
      const zone = document.getElementById("drop-zone");
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], name));
      for (const type of ["dragenter", "dragover", "drop"]) {
        const e = new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data });
        zone.dispatchEvent(e);
        // The page must take the drop (preventDefault), or the browser would navigate to the file.
        if (type !== "dragenter" && !e.defaultPrevented) throw new Error(`${type} was not handled`);
      }
    },
    { name: file, bytes },
  );
}

test("the manifest lists files and corrupt files", () => {
  assert.ok(manifest.files.length > 0, "manifest has files");
  assert.ok(manifest.corrupt.length > 0, "manifest has corrupt files");
});

// Files whose tensors the page lists from the header and reads one at a time (a deflated
// .npz member is inflated when its tensor is read; the others, Fortran-order and
// big-endian .npy, are decoded whole); the same list as tests/reference.rs holds.
const READ_FROM_HEADER = new Set([
  "small.safetensors",
  "small.npy",
  "half.npy",
  "ints.npy",
  "arrays.npz",
  "arrays_deflated.npz",
]);

for (const entry of manifest.files) {
  test(`opens ${entry.file} as the manifest says`, async () => {
    const { page } = browser;
    await upload(page, entry.file);
    assert.match(
      await page.textContent("#model-name"),
      new RegExp(`^${entry.file.replace(/\./g, "\\.")} \\(`),
    );
    if (entry.format !== undefined)
      assert.equal(await page.$eval("#model-name", (el) => el.dataset.format), entry.format);
    const expected = entry.tensors.map(({ name, shape, dtype }) => ({ name, shape, dtype })).sort(byName);
    assert.deepEqual((await tensorRows(page)).sort(byName), expected);
    assert.equal(
      await page.$eval("#model-name", (el) => el.dataset.lazy),
      String(READ_FROM_HEADER.has(entry.file)),
      "read tensor by tensor",
    );

    const c = await chartCounts(page);
    assert.ok(c.weightBars > 0, `weight histogram drawn (${c.weightBars} bars)`);
    assert.ok(
      c.errorLayers.length > 0 && c.errorLayers.every((l) => l.drawn),
      `error histograms drawn (${JSON.stringify(c.errorLayers)})`,
    );
    assert.ok(c.gridRules > 0 && c.gridRules === c.levels, `grid drawn (${c.gridRules} of ${c.levels})`);
    assert.equal(await page.isHidden("#error"), true, "no error shown");
    assertNoProblems(assert, page);
  });
}

manifest.corrupt.forEach((entry, i) => {
  test(`rejects ${entry.file} with "${entry.error}", keeps the open model`, async () => {
    const { page } = browser;
    // A known-good model first, so this error cannot be left over from the previous one.
    const good = manifest.files[i % manifest.files.length];
    await upload(page, good.file);
    assert.equal(await page.isHidden("#error"), true);
    const modelBefore = await page.textContent("#model-name");
    const rowsBefore = await tensorRows(page);
    const openedBefore = await openedCount(page);

    await page.setInputFiles("#file-input", join(manifest.dir, entry.file));
    await page.waitForSelector("#error:not([hidden])");
    const message = await page.textContent("#error");
    assert.ok(
      message.includes(entry.error),
      `#error says ${JSON.stringify(message)}, expected it to contain ${JSON.stringify(entry.error)}`,
    );
    assert.ok(message.includes(entry.file), "the message names the file");
    assert.equal(await page.getAttribute("#error", "role"), "alert");

    // The previous model is still open and still computes.
    assert.equal(await page.textContent("#model-name"), modelBefore);
    assert.equal(await openedCount(page), openedBefore);
    assert.deepEqual(await tensorRows(page), rowsBefore);
    const last = rowsBefore.at(-1).name;
    await page.click(`#tensor-list tr[data-name=${JSON.stringify(last)}]`);
    await waitForAnalysis(page, last);
    assert.ok((await chartCounts(page)).weightBars > 0);

    // And the next valid file opens normally, clearing the message.
    const next = manifest.files[(i + 1) % manifest.files.length];
    await upload(page, next.file);
    assert.equal(await page.isHidden("#error"), true, "the error is cleared");
    assert.deepEqual(
      (await tensorRows(page)).sort(byName),
      next.tensors.map(({ name, shape, dtype }) => ({ name, shape, dtype })).sort(byName),
    );
    assertNoProblems(assert, page);
  });
});

test("a file dropped on the drop zone opens; a corrupt one gives its error", async () => {
  const { page } = browser;
  const entry = manifest.files[0];
  const before = await openedCount(page);
  await drop(page, entry.file);
  await page.waitForFunction(
    (n) => Number(document.getElementById("model-name")?.dataset.opened) > n,
    before,
  );
  await waitForAnalysis(page);
  assert.match(await page.textContent("#model-name"), new RegExp(`^${entry.file.replace(/\./g, "\\.")} \\(`));
  assert.deepEqual(
    (await tensorRows(page)).sort(byName),
    entry.tensors.map(({ name, shape, dtype }) => ({ name, shape, dtype })).sort(byName),
  );
  assert.equal(
    await page.$eval("#drop-zone", (z) => z.classList.contains("dragging")),
    false,
    "the highlight ends",
  );

  const bad = manifest.corrupt[0];
  await drop(page, bad.file);
  await page.waitForSelector("#error:not([hidden])");
  assert.ok((await page.textContent("#error")).includes(bad.error));
  assert.equal(await openedCount(page), before + 1, "the dropped model stays open");
  assertNoProblems(assert, page);
});
