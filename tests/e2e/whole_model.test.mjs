// The whole-model panel: an ONNX model opened in the page runs float and quantized in
// the worker; the report equals `quantscope run --json` for the same model, scheme and
// seed (node list, inputs, schemes, exclusions exactly; SQNRs to TOLERANCE_DB, see
// docs/WHOLE-MODEL.md on native versus wasm kernels); a "keep float" box re-runs and
// changes the numbers and the QDQ download; the models of issue 10 run in Chromium.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ROOT, assertNoProblems, cliJson, launch, openApp, serveDist, waitForModel } from "./harness.mjs";

/** SQNR gap allowed between the page (wasm kernels) and the CLI (native kernels). */
const TOLERANCE_DB = 0.05;
const CONVNET = join(ROOT, "tests/fixtures/graph/convnet.onnx");
const PY = join(ROOT, ".venv/bin/python");

let server;
let browser;
let scratch;
before(async () => {
  server = await serveDist();
  browser = await launch();
  scratch = mkdtempSync(join(tmpdir(), "quantscope-whole-"));
});
after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * A real model's file, or undefined when it is not set up. Under `npm test`
 * (scripts/test-all.sh sets QUANTSCOPE_REQUIRE_MODELS=1) a missing model fails the test;
 * elsewhere it is skipped, loudly.
 */
function realModel(path, what) {
  if (path && existsSync(path)) return path;
  const message = `${what} is not set up; run bash scripts/setup-python.sh`;
  if (process.env.QUANTSCOPE_REQUIRE_MODELS) throw new Error(message);
  console.log(`\n!!!!!!!! SKIPPED: ${message}\n`);
  return undefined;
}

function packageFile(pkg, rel) {
  const r = spawnSync(
    PY,
    [
      "-c",
      `import importlib.util as u; s=u.find_spec('${pkg}'); print(s.submodule_search_locations[0] if s else '')`,
    ],
    {
      encoding: "utf8",
    },
  );
  const dir = r.status === 0 ? r.stdout.trim() : "";
  return realModel(dir ? join(dir, rel) : undefined, `${rel} of ${pkg}`);
}

/**
 * The same run through the same wasm module in Node (www/pkg, the SIMD128 build the page
 * loads with ?build=simd128): the page's report must equal it exactly.
 */
let nodeCore;
async function wasmRun(file, { dims = {}, seed = 0, scheme, mode = "weights", exclude = [] }) {
  if (!nodeCore) {
    nodeCore = await import(join(ROOT, "www/pkg/quantscope.js"));
    nodeCore.initSync({ module: readFileSync(join(ROOT, "www/pkg/quantscope_bg.wasm")) });
  }
  const s = nodeCore.GraphSession.open(
    readFileSync(file),
    [],
    [],
    dims,
    BigInt(seed),
    undefined,
    undefined,
    () => true,
  );
  try {
    // Through JSON, as the page's #whole-report holds it (an exact output's SQNR, +inf
    // in the core, is null there as in the CLI's --json).
    return JSON.parse(JSON.stringify(s.run(scheme, mode, "ort-uint8-asym", exclude, true, () => true)));
  } finally {
    s.free();
  }
}

async function openOnnx(page, file) {
  await openApp(page, `${server.url}?build=simd128`);
  await page.setInputFiles("#file-input", file);
  await waitForModel(page, file.split("/").pop());
  await page.waitForSelector("#whole:not([hidden])");
}

/** Fills the form, runs, waits for the n-th answer; returns the report (or the failure). */
async function run(
  page,
  { scheme = "int8-sym-ch0", mode = "weights", dims = "", seed = 0 } = {},
  timeout = 120_000,
) {
  const before = await page.$eval("#whole", (el) => Number(el.dataset.runs ?? 0));
  await page.fill("#whole-scheme", scheme);
  await page.selectOption("#whole-mode", mode);
  await page.fill("#whole-dims", dims);
  await page.fill("#whole-seed", String(seed));
  await page.click("#whole-run");
  return waitRun(page, before, timeout);
}

async function waitRun(page, before, timeout = 120_000) {
  await page.waitForFunction(
    (n) => {
      const el = document.getElementById("whole");
      return (
        el.dataset.state === "failed" || (el.dataset.state === "done" && Number(el.dataset.runs ?? 0) > n)
      );
    },
    before,
    { timeout },
  );
  const state = await page.$eval("#whole", (el) => el.dataset.state);
  if (state === "failed") return { failed: await page.textContent("#whole-status") };
  return JSON.parse(await page.textContent("#whole-report"));
}

function cliRun(file, args) {
  return cliJson(["run", file, ...args]);
}

/** Page against CLI: everything but the metrics exactly, the metrics to TOLERANCE_DB. */
function assertSameReport(page, cli) {
  const strip = (r) => ({
    ...r,
    nodes: r.nodes.map(({ accumulated, isolated, ...rest }) => ({
      ...rest,
      acc: accumulated !== null,
      iso: isolated !== null,
    })),
    outputs: r.outputs.map((o) => ({ name: o.name, shape: o.shape })),
    ranking: undefined,
    activations: r.activations.map((a) => a.value),
  });
  assert.deepEqual(strip(page), strip(cli));
  let worst = 0;
  for (let i = 0; i < cli.nodes.length; i++) {
    for (const k of ["accumulated", "isolated"]) {
      const a = page.nodes[i][k]?.sqnr_db;
      const b = cli.nodes[i][k]?.sqnr_db;
      if (a === undefined || a === null || b === null) {
        assert.equal(a ?? null, b ?? null, `${cli.nodes[i].node} ${k}`);
        continue;
      }
      worst = Math.max(worst, Math.abs(a - b));
      assert.ok(Math.abs(a - b) <= TOLERANCE_DB, `${cli.nodes[i].node} ${k}: page ${a} dB, CLI ${b} dB`);
    }
  }
  return worst;
}

test("the page's per-node report is quantscope run --json's, and keep-float re-runs and changes the download", async () => {
  const { page } = browser;
  await openOnnx(page, CONVNET);
  const report = await run(page, { seed: 0 });
  assert.ok(!report.failed, report.failed);
  // Exactly the same wasm module's numbers in Node; the native CLI's to TOLERANCE_DB.
  assert.deepEqual(report, await wasmRun(CONVNET, { scheme: "int8-sym-ch0" }));
  const cli = cliRun(CONVNET, ["--scheme", "int8-sym-ch0", "--seed", "0"]);
  const gap = assertSameReport(report, cli);
  console.log(`convnet: largest page-CLI SQNR gap ${gap.toExponential(2)} dB`);
  await assertShown(page, report);
  // Drawn: the accumulated line and the isolated dots.
  assert.ok((await page.$$("#chart-whole svg path")).length >= 1);
  assert.equal((await page.$$("#chart-whole svg circle")).length, 3);
  assert.equal(await page.textContent("#whole-exclude"), "nodes_to_exclude=[]");
  // The download before any exclusion.
  await page.click("#whole-download");
  await page.waitForSelector("#whole-file:not([hidden])");
  const bytesBefore = Number(await page.$eval("#whole-file", (a) => a.dataset.bytes));
  // Keep the worst node float: the panel re-runs.
  const worst = cli.nodes[cli.ranking[0]].node;
  const runs = await page.$eval("#whole", (el) => Number(el.dataset.runs));
  await page.check(`#whole-worst tr[data-node="${worst}"] input[type=checkbox]`);
  const excluded = await waitRun(page, runs);
  assert.deepEqual(excluded, await wasmRun(CONVNET, { scheme: "int8-sym-ch0", exclude: [worst] }));
  const cliExcl = cliRun(CONVNET, ["--scheme", "int8-sym-ch0", "--seed", "0", "--exclude", worst]);
  assertSameReport(excluded, cliExcl);
  assert.deepEqual(excluded.nodes_to_exclude, [worst]);
  assert.equal(await page.textContent("#whole-exclude"), `nodes_to_exclude=${JSON.stringify([worst])}`);
  assert.notDeepEqual(excluded.outputs[0].metrics, report.outputs[0].metrics);
  // The download keeps that node's weight float: the file grows and the CLI reads it so.
  await page.click("#whole-download");
  await page.waitForFunction(
    (b) => Number(document.getElementById("whole-file").dataset.bytes) !== b,
    bytesBefore,
  );
  // Downloaded by a click, as a user would (the page's CSP lets nothing fetch a blob: URL).
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#whole-file")]);
  const bytes = readFileSync(await dl.path());
  const file = join(scratch, "excluded.onnx");
  writeFileSync(file, bytes);
  assert.ok(bytes.length > bytesBefore);
  const info = cliJson(["inspect", file]);
  const weight = cli.nodes.find((n) => n.node === worst).weight;
  assert.ok(
    info.tensors.some((t) => t.name === weight && t.dtype === "F32"),
    `${weight} stays F32`,
  );
  // Clicking a node with a weight shows that weight in the tensor view.
  await page.click(`#whole-worst tr[data-node="${cli.nodes[cli.ranking[1]].node}"] td.name`);
  await page.waitForSelector(`#detail[data-tensor=${JSON.stringify(cli.nodes[cli.ranking[1]].weight)}]`);
  assertNoProblems(assert, page);
});

test("the full mode and a model the engine cannot run", async () => {
  const { page } = browser;
  await openOnnx(page, CONVNET);
  const report = await run(page, { mode: "full", seed: 2 });
  assert.deepEqual(report, await wasmRun(CONVNET, { scheme: "int8-sym-ch0", seed: 2, mode: "full" }));
  const cli = cliRun(CONVNET, ["--scheme", "int8-sym-ch0", "--seed", "2", "--mode", "full"]);
  assertSameReport(report, cli);
  // The convnet's three weight ops read the graph input and two activations; the graph
  // input stays float (src/graph/mod.rs, activations()), as in the CLI.
  assert.equal(report.activations.length, 2);
  await page.setInputFiles("#file-input", join(ROOT, "tests/fixtures/graph/det_op.onnx"));
  await waitForModel(page, "det_op.onnx");
  const failed = await run(page, { scheme: "int8-sym" });
  assert.match(failed.failed, /no operator Det: det \(Det\)/);
  assertNoProblems(assert, page);
});

/** The displayed tables show the report's numbers: the worst list and the outputs. */
async function assertShown(page, report) {
  const worst = await page.$$eval("#whole-worst tbody tr", (rows) =>
    rows.map((r) => ({ node: r.dataset.node, cells: [...r.cells].map((c) => c.textContent) })),
  );
  const db = (m) => (!m ? "–" : m.sqnr_db === null ? "∞" : m.sqnr_db.toFixed(2));
  const ranked = report.ranking.slice(0, 12).map((i) => report.nodes[i]);
  assert.deepEqual(
    worst.slice(0, ranked.length).map((r) => [r.node, r.cells[2], r.cells[3]]),
    ranked.map((n) => [n.node, db(n.isolated), db(n.accumulated)]),
  );
  const outputs = await page.$$eval("#whole-outputs tbody tr", (rows) =>
    rows.map((r) => [...r.cells].map((c) => c.textContent)),
  );
  const preview = (v) =>
    v
      .slice(0, 6)
      .map((x) => x.toPrecision(4))
      .join(" ");
  assert.deepEqual(
    outputs.map((c) => [c[0], c[2], c[5], c[6]]),
    report.outputs.map((o) => [
      o.name,
      db(o.metrics),
      preview(o.float_preview),
      preview(o.quantized_preview),
    ]),
  );
}

const PADDLE = "rapidocr_onnxruntime";
const DET = "models/ch_PP-OCRv4_det_infer.onnx";

test("progress and cancel: a long run shows its stage, Cancel ends its worker, the next run starts afresh", async () => {
  const { page } = browser;
  const det = packageFile(PADDLE, DET);
  if (!det) return;
  await openOnnx(page, det);
  const before = new Set(page.workers());
  await page.fill("#whole-scheme", "int8-sym-ch0");
  await page.selectOption("#whole-mode", "weights");
  await page.fill("#whole-dims", "p2o.DynamicDimension.1=640, p2o.DynamicDimension.2=640");
  await page.fill("#whole-seed", "0");
  await page.click("#whole-run");
  // The float run reports its progress node by node while the worker computes.
  await page.waitForFunction(() =>
    /^float run: \d+ of \d+$/.test(document.getElementById("whole-status").textContent),
  );
  assert.equal(await page.$eval("#whole", (el) => el.dataset.state), "running");
  assert.equal(await page.$eval("#whole-progress", (el) => el.hidden), false);
  const worker = page.workers().find((w) => !before.has(w));
  assert.ok(worker, "the run has a worker of its own");
  const closed = new Promise((ok) => worker.once("close", ok));
  await page.click("#whole-cancel");
  assert.equal(await page.$eval("#whole", (el) => el.dataset.state), "cancelled");
  assert.equal(await page.textContent("#whole-status"), "Cancelled.");
  assert.equal(await page.$eval("#whole-cancel", (el) => el.disabled), true);
  // The worker is ended mid-run, not left computing.
  await closed;
  assert.ok(!page.workers().includes(worker));
  // A new run (smaller input) starts a new worker and completes, the numbers unchanged by
  // what was cancelled.
  const dims = "p2o.DynamicDimension.1=96, p2o.DynamicDimension.2=96";
  const report = await run(page, { dims, scheme: "int8-sym-ch0" }, 300_000);
  assert.ok(!report.failed, report.failed);
  assert.deepEqual(
    report,
    await wasmRun(det, {
      scheme: "int8-sym-ch0",
      dims: { "p2o.DynamicDimension.1": 96, "p2o.DynamicDimension.2": 96 },
    }),
  );
  assertNoProblems(assert, page);
});

test("silero-vad (every ONNX file of the package), PaddleOCR and MiniLM run in Chromium, as in Node and the CLI", async () => {
  const { page } = browser;
  const silero = [
    "silero_vad.onnx",
    "silero_vad_16k_op15.onnx",
    "silero_vad_half.onnx",
    "silero_vad_op18_ifless.onnx",
    "silero_vad_16k_sequence.onnx",
  ].map((f) => [packageFile("silero_vad", `data/${f}`), "input.1=512", "int8-sym-ch0"]);
  const models = [
    ...silero,
    [packageFile(PADDLE, "models/ch_ppocr_mobile_v2.0_cls_infer.onnx"), "x.2=48, x.3=192", "int8-sym-ch0"],
    [
      packageFile(PADDLE, "models/ch_PP-OCRv4_rec_infer.onnx"),
      "x.2=48, p2o.DynamicDimension.1=320",
      "int8-sym-ch0",
    ],
    [packageFile(PADDLE, DET), "p2o.DynamicDimension.1=640, p2o.DynamicDimension.2=640", "int8-sym-ch0"],
    [
      realModel(join(ROOT, ".cache/models/all-MiniLM-L6-v2.onnx"), "all-MiniLM-L6-v2.onnx"),
      "sequence=16",
      "int8-sym-ch1",
    ],
  ];
  for (const [file, dims, scheme] of models) {
    if (!file) continue;
    await openOnnx(page, file);
    const report = await run(page, { dims, scheme }, 300_000);
    assert.ok(!report.failed, `${file}: ${report.failed}`);
    const ms = await page.$eval("#whole", (el) => el.dataset.totalMs);
    const weights = report.nodes.filter((n) => n.isolated).length;
    console.log(
      `${file.split("/").pop()}: ${report.nodes.length} node outputs, ${weights} isolated, ${ms} ms`,
    );
    assert.ok(weights >= 3, `${file}: ${weights} weight nodes`);
    assert.ok(report.outputs.length >= 1);
    await assertShown(page, report);
    const dimArgs = dims.split(", ");
    const byName = Object.fromEntries(dimArgs.map((d) => [d.split("=")[0], Number(d.split("=")[1])]));
    assert.deepEqual(report, await wasmRun(file, { scheme, dims: byName }), `${file}: page and Node differ`);
    const cli = cliRun(file, ["--scheme", scheme, ...dimArgs.flatMap((d) => ["--dim", d])]);
    const gap = assertSameReport(report, cli);
    console.log(`  largest page-CLI SQNR gap ${gap.toExponential(2)} dB`);
  }
  assertNoProblems(assert, page);
});
