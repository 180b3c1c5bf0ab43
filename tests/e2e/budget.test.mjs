// The memory budget in the page, on the file of issue 14: an .npz of one deflated 1-D
// float32 array of 268,435,456 zeros (1 GiB of values in about 1 MB), made at test time
// by scripts/gen_zeros_npz.py (numpy.savez_compressed). Every scheme family is refused
// with the budget's message (tensor, scheme, figure) well under a second after the
// upload: the worker lists the member from its .npy header alone and the core refuses
// before inflating it. Per channel on a small 1-D array runs per tensor, with the note.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launch, openApp, ROOT, serveDist, waitForAnalysis, waitForModel } from "./harness.mjs";

/** One scheme per family (canonical strings, as the chips show them). */
const FAMILIES = [
  "int8-sym-ch0", // linear, per channel: the scheme of the issue
  "int4-asym-group32", // linear, per group
  "nf4",
  "fp16",
  "pot4",
  "kmeans16",
  "mixed-int8-fp16-t6",
  "q8_0",
];

let server;
let browser;
let scratch;
let zeros;
let small;
before(async () => {
  server = await serveDist();
  browser = await launch();
  scratch = mkdtempSync(join(tmpdir(), "quantscope-budget-"));
  const python = join(ROOT, ".venv", "bin", "python");
  zeros = join(scratch, "zeros.npz");
  small = join(scratch, "small.npz");
  execFileSync(python, [join(ROOT, "scripts", "gen_zeros_npz.py"), zeros]);
  execFileSync(python, [join(ROOT, "scripts", "gen_zeros_npz.py"), small, "4096"]);
});
after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

// The page compares at most six schemes at once (MAX_SCHEMES): the eight families in two
// page loads of four.
for (const families of [FAMILIES.slice(0, 4), FAMILIES.slice(4)])
  test(`the 1 GiB zero-filled .npz gets the budget message for every scheme family, well under a second: ${families.join(", ")}`, async () => {
    const { page } = browser;
    await openApp(page, `${server.url}?workers=1&schemes=${families.join(",")}`);
    const started = Date.now();
    await page.setInputFiles("#file-input", zeros);
    await waitForModel(page, "zeros.npz");
    await waitForAnalysis(page, "zeros", families).catch(async (e) => {
      const d = await page.$eval("#detail", (el) => ({ ...el.dataset, busy: el.getAttribute("aria-busy") }));
      const err = await page.textContent("#error");
      const items = await page.$$eval("#scheme-describe li", (lis) => lis.map((li) => li.textContent));
      throw new Error(`${e.message}\ndetail ${JSON.stringify(d)}\nerror ${err}\n${items.join("\n")}`);
    });
    const took = Date.now() - started;
    const failed = await page.$$eval("#scheme-describe li", (lis) =>
      lis.map((li) => ({
        scheme: li.dataset.scheme,
        failed: li.classList.contains("failed"),
        text: li.textContent,
      })),
    );
    assert.deepEqual(
      failed.map((f) => f.scheme),
      families,
    );
    for (const f of failed) {
      assert.ok(f.failed, `${f.scheme} ran: ${f.text}`);
      for (const needle of [
        `tensor \`zeros\` under ${f.scheme}:`,
        "values 1.00 GiB",
        "more than the memory budget of 2.00 GiB (the page's budget: half of wasm32's 4 GiB)",
      ]) {
        assert.ok(
          f.text.includes(needle),
          `${f.scheme}: ${JSON.stringify(needle)} missing from ${JSON.stringify(f.text)}`,
        );
      }
    }
    // Upload, open (zip directory, the .npy header inflated), and all eight refusals.
    assert.ok(took < 1000, `the budget messages came ${took} ms after the upload`);
    // The model stays open and the page answers: the tensor list shows the array.
    const rows = await page.$$eval("#tensor-list tbody tr", (trs) => trs.map((tr) => tr.dataset.name));
    assert.deepEqual(rows, ["zeros"]);
  });

test("per channel on a 1-D array runs per tensor and says so", async () => {
  const { page } = browser;
  await openApp(page, `${server.url}?workers=1&schemes=int8-sym-ch0`);
  await page.setInputFiles("#file-input", small);
  await waitForModel(page, "small.npz");
  await waitForAnalysis(page, "zeros", "int8-sym-ch0");
  const text = await page.textContent('#scheme-describe li[data-scheme="int8-sym-ch0"]');
  assert.ok(
    text.includes(
      "1-D tensor: per channel would give each of its 4096 elements its own scale; quantized per tensor instead (int8-sym)",
    ),
    text,
  );
  assert.ok(text.includes("one scale for the tensor"), text);
});
