// Downloading the quantized model from the page: the file the worker writes equals,
// byte for byte, the one `quantscope quantize -o` writes from the same model and scheme
// (safetensors, GGUF, and ONNX QDQ from an ONNX model, with external data too); the
// report link carries the writer's report; a scheme a format cannot hold shows the
// core's message and the page keeps working. (tests/interop/ holds these files to
// ONNX Runtime, gguf and safetensors themselves.)

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  assertNoProblems,
  CLI,
  DEMO,
  launch,
  ROOT,
  serveDist,
  waitForAnalysis,
  waitForModel,
} from "./harness.mjs";

const FORMATS2 = join(ROOT, "tests", "fixtures", "formats2");
const SCHEMES = ["int8-sym-ch0", "q4_0", "int4-asym-group128", "fp8-e4m3"];

let server;
let browser;
let scratch;
before(async () => {
  scratch = mkdtempSync(join(tmpdir(), "quantscope-export-"));
  server = await serveDist();
  browser = await launch();
  await browser.page.goto(`${server.url}?schemes=${SCHEMES.join(",")}`);
  await waitForModel(browser.page, "demo.safetensors");
});
after(async () => {
  await browser?.close();
  await server?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** What `quantscope quantize FILES --scheme S -o out.EXT` writes. */
function cliFile(files, scheme, ext) {
  const out = join(scratch, `cli-${scheme}.${ext}`);
  const r = spawnSync(CLI, ["quantize", ...files, "--scheme", scheme, "-o", out], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(out);
}

/** Chooses format and scheme, writes, and returns the downloaded bytes and file name. */
async function download(page, format, scheme) {
  await page.selectOption("#export-format", format);
  await page.selectOption("#export-scheme", scheme);
  const [dl] = await Promise.all([
    page.waitForEvent("download", { timeout: 60_000 }),
    page.click("#export-run"),
  ]);
  const path = join(scratch, `page-${dl.suggestedFilename()}`);
  await dl.saveAs(path);
  await page.waitForSelector('#export[data-state="done"]');
  return { bytes: readFileSync(path), name: dl.suggestedFilename() };
}

test("GGUF and safetensors downloads equal the CLI's files byte for byte", async () => {
  const { page } = browser;
  for (const [format, scheme, ext] of [
    ["gguf", "q4_0", "gguf"],
    ["safetensors", "int4-asym-group128", "safetensors"],
    ["safetensors", "fp8-e4m3", "safetensors"],
    ["safetensors", "int8-sym-ch0", "safetensors"],
  ]) {
    const got = await download(page, format, scheme);
    assert.equal(got.name, `demo.${scheme}.${ext}`);
    const want = cliFile([DEMO], scheme, ext);
    assert.ok(
      got.bytes.equals(want),
      `${format} ${scheme}: ${got.bytes.length} bytes vs the CLI's ${want.length}`,
    );
    assert.equal(Number(await page.$eval("#export", (el) => el.dataset.bytes)), want.length);
    assert.match(await page.textContent("#export-status"), /tensors quantized/);
    // The report link downloads the writer's report (a click, as a user would: the
    // page's policy forbids fetching even a blob: URL).
    const [rdl] = await Promise.all([page.waitForEvent("download"), page.click("#export-report")]);
    const report = JSON.parse(readFileSync(await rdl.path(), "utf8"));
    assert.equal(report.scheme, scheme);
    assert.equal(report.bytes, want.length);
  }
  assertNoProblems(assert, page);
});

test("a scheme a format cannot hold gives the core's message; the page keeps working", async () => {
  const { page } = browser;
  await page.selectOption("#export-format", "gguf");
  await page.selectOption("#export-scheme", "int8-sym-ch0");
  await page.click("#export-run");
  await page.waitForSelector('#export[data-state="failed"]');
  const cli = spawnSync(CLI, ["quantize", DEMO, "--scheme", "int8-sym-ch0", "-o", join(scratch, "x.gguf")], {
    encoding: "utf8",
  });
  assert.notEqual(cli.status, 0);
  const message = cli.stderr.trim().replace(/^quantscope: /, "");
  assert.ok((await page.textContent("#export-status")).includes(message), message);
  assert.equal(await page.isHidden("#export-file"), true);
  assert.equal(
    await page.$eval('#export-format option[value="onnx"]', (o) => o.disabled),
    true,
    "ONNX output needs an ONNX model",
  );
  const again = await download(page, "gguf", "q4_0");
  assert.ok(again.bytes.length > 0);
  assertNoProblems(assert, page);
});

test("an ONNX model downloads as QDQ ONNX equal to the CLI's, external data included", async () => {
  const { page } = browser;
  for (const files of [["onnx/weights.onnx"], ["onnx/external.onnx", "onnx/external.onnx.data"]]) {
    const paths = files.map((f) => join(FORMATS2, f));
    await page.setInputFiles("#file-input", paths);
    await page.waitForFunction(
      (n) =>
        document.getElementById("model-name")?.dataset.format === "onnx" &&
        document.getElementById("model-name")?.textContent?.includes(n),
      files[0].split("/")[1],
    );
    await waitForAnalysis(page);
    assert.equal(
      await page.$eval("#export-format", (s) => s.value),
      "onnx",
      "ONNX output chosen for an ONNX model",
    );
    const got = await download(page, "onnx", "int8-sym-ch0");
    const want = cliFile(paths, "int8-sym-ch0", "onnx");
    assert.ok(got.bytes.equals(want), `${files[0]}: ${got.bytes.length} bytes vs the CLI's ${want.length}`);
  }
  assertNoProblems(assert, page);
});
