// The layer panel: a demo weight run as a layer in float and through the int8 GEMM
// shows exactly what `quantscope layer --json` prints (metrics, the chosen row's two
// outputs, the output-error histogram), for seeded probes and for a user's .npy; a
// request the core refuses shows its message and the page goes on working.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  DEMO,
  assertNoProblems,
  cliJson,
  cliTry,
  launch,
  openApp,
  pageMetrics,
  serveDist,
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
  scratch = mkdtempSync(join(tmpdir(), "quantscope-layer-"));
});
after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** `quantscope layer` arguments for a request as the panel holds it. */
function cliArgs({ file = DEMO, tensor, scheme, probe = "gaussian", batch = 64, seed = 0, row = 0 }) {
  return [
    "layer",
    file,
    "--tensor",
    tensor,
    "--scheme",
    scheme,
    "--inputs",
    probe,
    "--batch",
    String(batch),
    "--seed",
    String(seed),
    "--row",
    String(row),
  ];
}

/** How many runs the panel has answered so far (a report or a message). */
const runs = (page) => page.$eval("#layer", (el) => Number(el.dataset.runs ?? 0));

/** Waits until the panel has answered more than `since` runs and is not running. */
async function nextAnswer(page, since) {
  await page.waitForFunction((n) => {
    const el = document.getElementById("layer");
    return Number(el?.dataset.runs ?? 0) > n && el?.dataset.state !== "running";
  }, since);
  return page.$eval("#layer", (el) => ({ ...el.dataset }));
}

/**
 * Sets the panel's fields (without events, so that no run starts half-way) and clicks
 * Run; returns the panel's data attributes once it has answered.
 */
async function runPanel(page, { scheme, probe = "gaussian", batch = 64, seed = 0, row = 0 }) {
  const since = await runs(page);
  await page.evaluate(
    (v) => {
      const set = (id, value) => {
        document.getElementById(id).value = String(value);
      };
      set("layer-scheme", v.scheme);
      set("layer-probe", v.probe);
      set("layer-batch", v.batch);
      set("layer-seed", v.seed);
      set("layer-row", v.row);
    },
    { scheme, probe, batch, seed, row },
  );
  await page.click("#layer-run");
  return nextAnswer(page, since);
}

/** Sets a field's value without events (a later run reads it). */
function setField(page, id, value) {
  return page.$eval(
    `#${id}`,
    (el, v) => {
      el.value = v;
    },
    String(value),
  );
}

/** Everything the panel shows as numbers. */
function panelNumbers(page) {
  return page.evaluate(() => {
    const metrics = {};
    for (const td of document.querySelectorAll("#layer-metrics td[data-metric]"))
      metrics[td.dataset.metric] = td.dataset.value;
    const column = (key) =>
      [...document.querySelectorAll(`#layer-values td[data-key="${key}"]`)].map((td) =>
        Number(td.dataset.value),
      );
    const error = document.getElementById("chart-layer-error");
    return {
      metrics,
      float: column("float"),
      int8: column("int8"),
      outputIndex: column("output"),
      error: {
        lo: Number(error.dataset.lo),
        hi: Number(error.dataset.hi),
        counts: error.dataset.counts.split(",").map(Number),
      },
      sub: document.getElementById("layer-sub").textContent,
    };
  });
}

/**
 * The panel shows the CLI's report exactly: metrics (f64) as the CLI prints them;
 * outputs and histogram edges (f32, which JSON prints in their shortest form) as the
 * same f32 values.
 */
async function assertShowsReport(page, cli, what) {
  const shown = await panelNumbers(page);
  const metrics = {};
  for (const k of ["mse", "sqnr_db", "cosine", "max_abs_error"])
    metrics[k] = String(cli.metrics[k] ?? Infinity);
  assert.deepEqual(shown.metrics, metrics, `${what}: metrics`);
  assert.deepEqual(
    shown.float,
    cli.float_out.map(Math.fround),
    `${what}: float outputs of row ${cli.shown_row}`,
  );
  assert.deepEqual(
    shown.int8,
    cli.int8_out.map(Math.fround),
    `${what}: int8 outputs of row ${cli.shown_row}`,
  );
  assert.deepEqual(
    shown.outputIndex,
    cli.float_out.map((_, i) => i),
  );
  assert.deepEqual(
    shown.error,
    { lo: Math.fround(cli.error.lo), hi: Math.fround(cli.error.hi), counts: cli.error.counts },
    `${what}: output-error histogram`,
  );
  assert.ok(shown.sub.includes(`${cli.n} outputs × ${cli.k} inputs`), `${what}: ${shown.sub}`);
  assert.ok(shown.sub.includes(cli.scheme), `${what}: names ${cli.scheme}`);
  // Real work: some output moved, and every probe output was counted.
  assert.notDeepEqual(shown.float, shown.int8, `${what}: int8 is not float`);
  assert.equal(
    cli.error.counts.reduce((a, b) => a + b, 0),
    cli.batch * cli.n,
  );
}

/** What the outputs and error charts drew. */
function layerCharts(page) {
  return page.evaluate(() => {
    const drawn = (sel) =>
      [...document.querySelectorAll(sel)].some((p) => /\d/.test(p.getAttribute("d") ?? ""));
    const out = document.getElementById("chart-layer-outputs");
    return {
      style: out.dataset.style,
      outputs: Number(out.dataset.outputs),
      floatBars: out.querySelectorAll("g.layer-float rect").length,
      int8Bars: out.querySelectorAll("g.layer-int8 rect").length,
      floatLine: drawn("#chart-layer-outputs g.layer-float path"),
      int8Line: drawn("#chart-layer-outputs g.layer-int8 path"),
      diffRules: out.querySelectorAll("g.layer-diff line").length,
      errorBars: document.querySelectorAll("#chart-layer-error svg g.layer-error-bars rect").length,
      bodyHidden: document.getElementById("layer-body").hidden,
    };
  });
}

test("the layer panel shows what `quantscope layer --json` prints, for seeded probes, rows and schemes", async () => {
  const { page } = browser;
  const tensor = "layers.0.mlp.fc1.weight"; // [256, 64]: more outputs than bars, so lines
  await openApp(page, `${server.url}?tensor=${tensor}`);
  await page.waitForSelector(`#layer[data-state="done"][data-tensor="${tensor}"]`);

  // As the page opens: int8-sym-ch0, 64 Gaussian rows, seed 0, row 0.
  const first = cliJson(cliArgs({ tensor, scheme: "int8-sym-ch0" }));
  await assertShowsReport(page, first, "defaults");
  let c = await layerCharts(page);
  assert.equal(c.style, "lines");
  assert.equal(c.outputs, 256);
  assert.ok(c.floatLine && c.int8Line, "both output lines are drawn");
  assert.equal(c.diffRules, 256, "one error rule per output");
  assert.equal(c.errorBars, first.error.counts.length, "a bar per error bin");

  const cases = [
    { tensor, scheme: "int4-asym-ch0", probe: "uniform", batch: 7, seed: 12345, row: 6 },
    { tensor, scheme: "uint8-asym", probe: "gaussian", batch: 3, seed: 4294967295, row: 1 },
    { tensor, scheme: "int8-sym-ch0-mse", probe: "gaussian", batch: 64, seed: 7, row: 63 },
  ];
  for (const k of cases) {
    const state = await runPanel(page, k);
    const what = JSON.stringify(k);
    assert.equal(state.state, "done", `${what}: ${await page.textContent("#layer-error")}`);
    assert.deepEqual(
      { scheme: state.scheme, probe: state.probe, batch: state.batch, seed: state.seed, row: state.row },
      { scheme: k.scheme, probe: k.probe, batch: String(k.batch), seed: String(k.seed), row: String(k.row) },
    );
    await assertShowsReport(page, cliJson(cliArgs(k)), what);
  }

  // A conv kernel [16, 3, 3, 3] runs as [16, 27]; few outputs draw paired bars.
  const conv = "stem.conv.weight";
  const since = await runs(page);
  await page.click(`#tensor-list tr[data-name="${conv}"]`);
  await waitForAnalysis(page, conv);
  assert.equal((await nextAnswer(page, since)).tensor, conv);
  const k = { tensor: conv, scheme: "int8-sym-ch0-mse", seed: 7, row: 63 };
  const cli = cliJson(cliArgs(k));
  await assertShowsReport(page, cli, "conv, the settings kept");
  assert.ok((await page.textContent("#layer-sub")).includes("[16, 3, 3, 3] flattened"));
  c = await layerCharts(page);
  assert.equal(c.style, "bars");
  assert.deepEqual(
    [c.floatBars, c.int8Bars, c.diffRules],
    [16, 16, 16],
    "a pair of bars and an error rule per output",
  );
  assert.ok(c.errorBars > 0);

  // A compared scheme's button runs the layer with it (the F16 head, 10 outputs).
  await page.click('#tensor-list tr[data-name="head.weight"]');
  await page.waitForSelector('#layer[data-state="done"][data-tensor="head.weight"]');
  const since2 = await runs(page);
  await page.click('#layer-compared button[data-layer-scheme="int4-sym-ch0"]');
  const s = await nextAnswer(page, since2);
  assert.equal(s.scheme, "int4-sym-ch0");
  assert.equal(
    await page.getAttribute('#layer-compared button[data-layer-scheme="int4-sym-ch0"]', "aria-pressed"),
    "true",
  );
  await assertShowsReport(
    page,
    cliJson(cliArgs({ ...k, tensor: "head.weight", scheme: "int4-sym-ch0" })),
    "head",
  );
  assertNoProblems(assert, page);
});

/** Writes a little-endian float32 .npy of `shape` with values `value(i)`. */
function writeNpy(file, shape, value) {
  const numel = shape.reduce((a, b) => a * b, 1);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // Magic (6) + version (2) + length (2) + header, padded with spaces to 64, ending in \n.
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
  const len = Buffer.alloc(2);
  len.writeUInt16LE(header.length);
  const data = new Float32Array(numel);
  for (let i = 0; i < numel; i++) data[i] = value(i);
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from("\x93NUMPY\x01\x00", "latin1"),
      len,
      Buffer.from(header),
      Buffer.from(data.buffer),
    ]),
  );
  return file;
}

test("inputs from an .npy file: the CLI's report on the same file, and its message for the wrong width", async () => {
  const { page } = browser;
  const tensor = "layers.0.attn.qkv.weight"; // [192, 64]
  const good = writeNpy(
    join(scratch, "probe.npy"),
    [5, 64],
    (i) => Math.sin(i * 0.37) * 2 + ((i % 7) - 3) * 0.1,
  );
  const narrow = writeNpy(join(scratch, "narrow.npy"), [3, 10], (i) => i / 10);
  const vector = writeNpy(join(scratch, "vector.npy"), [64], (i) => Math.cos(i));
  await openApp(page, `${server.url}?tensor=${tensor}`);
  await page.waitForSelector(`#layer[data-state="done"][data-tensor="${tensor}"]`);

  // Choosing the file inputs asks for a file and disables what a file brings itself.
  await page.selectOption("#layer-probe", "npy");
  assert.equal(await page.isVisible("#layer-file"), true);
  assert.equal(await page.isDisabled("#layer-batch"), true);
  assert.equal(await page.isDisabled("#layer-seed"), true);
  assert.match(await page.textContent("#layer-error"), /choose an \.npy file/);

  await setField(page, "layer-row", 3);
  let since = await runs(page);
  await page.setInputFiles("#layer-file", good);
  let state = await nextAnswer(page, since);
  assert.equal(state.state, "done", await page.textContent("#layer-error"));
  assert.deepEqual([state.probe, state.batch, state.row], ["npy", "5", "3"]);
  await assertShowsReport(
    page,
    cliJson(cliArgs({ tensor, scheme: "int8-sym-ch0", probe: good, row: 3 })),
    "probe.npy",
  );
  assert.match(await page.textContent("#layer-sub"), /5 rows of `probe`/);

  // One vector is a batch of one.
  since = await runs(page);
  await setField(page, "layer-row", 0);
  await page.setInputFiles("#layer-file", vector);
  state = await nextAnswer(page, since);
  assert.equal(state.batch, "1");
  await assertShowsReport(
    page,
    cliJson(cliArgs({ tensor, scheme: "int8-sym-ch0", probe: vector })),
    "vector.npy",
  );

  // Rows of the wrong width: the core's message, as the CLI prints it.
  since = await runs(page);
  await page.setInputFiles("#layer-file", narrow);
  state = await nextAnswer(page, since);
  const refused = cliTry(cliArgs({ tensor, scheme: "int8-sym-ch0", probe: narrow }));
  assert.equal(refused.ok, false);
  assert.equal(state.state, "failed");
  assert.equal(await page.textContent("#layer-error"), refused.message);
  assert.equal((await layerCharts(page)).bodyHidden, true, "no numbers of an earlier run are left showing");
  assertNoProblems(assert, page);
});

test("a scheme or row the layer refuses shows the core's message, and the page keeps working", async () => {
  const { page } = browser;
  const tensor = "layers.0.attn.out.weight"; // [64, 64]
  await openApp(page, `${server.url}?schemes=int8-sym-ch0,q4_0&tensor=${tensor}`);
  await page.waitForSelector(`#layer[data-state="done"][data-tensor="${tensor}"]`);

  // Typed and applied with Enter, as a person would.
  const refused = ["q4_0", "nf4", "int4-sym-group32", "int8-sym-ch1", "int16-sym-ch0", "fp8-e4m3", "bogus9"];
  for (const scheme of refused) {
    const cli = cliTry(cliArgs({ tensor, scheme }));
    assert.equal(cli.ok, false, `the CLI refuses ${scheme} for a layer`);
    const since = await runs(page);
    await page.fill("#layer-scheme", scheme);
    await page.press("#layer-scheme", "Enter");
    const state = await nextAnswer(page, since);
    assert.equal(state.state, "failed", scheme);
    assert.equal(await page.textContent("#layer-error"), cli.message, `${scheme}: the core's message`);
    assert.equal(await page.getAttribute("#layer-scheme", "aria-invalid"), "true");
    assert.equal((await layerCharts(page)).bodyHidden, true);
  }
  // The compared-scheme button of q4_0 gets the same answer as typing it.
  let since = await runs(page);
  await page.click('#layer-compared button[data-layer-scheme="q4_0"]');
  await nextAnswer(page, since);
  assert.equal(await page.textContent("#layer-error"), cliTry(cliArgs({ tensor, scheme: "q4_0" })).message);

  // A row outside the batch.
  await runPanel(page, { scheme: "int8-asym-ch0", batch: 4, row: 4 });
  const rowMessage = cliTry(cliArgs({ tensor, scheme: "int8-asym-ch0", batch: 4, row: 4 }));
  assert.equal(rowMessage.ok, false);
  assert.equal(await page.textContent("#layer-error"), rowMessage.message);
  assert.equal(await page.getAttribute("#layer-scheme", "aria-invalid"), null, "the scheme is not to blame");

  // A good request after all that: the CLI's numbers again, no message left.
  const ok = { tensor, scheme: "int8-asym-ch0", batch: 4, row: 3 };
  const state = await runPanel(page, ok);
  assert.equal(state.state, "done");
  assert.equal(await page.textContent("#layer-error"), "");
  await assertShowsReport(page, cliJson(cliArgs(ok)), "after the refusals");
  const c = await layerCharts(page);
  assert.equal(c.bodyHidden, false);
  assert.deepEqual([c.style, c.floatBars, c.int8Bars], ["bars", 64, 64]);

  // The rest of the page is unaffected: the compared metrics are still the core's.
  assert.equal(await page.isHidden("#error"), true, "no page-wide error");
  const other = "layers.0.mlp.fc2.weight";
  since = await runs(page);
  await page.click(`#tensor-list tr[data-name="${other}"]`);
  await waitForAnalysis(page, other, ["int8-sym-ch0", "q4_0"]);
  assert.ok(Number((await pageMetrics(page))["q4_0"].sqnr_db) > 0);
  await nextAnswer(page, since);
  await assertShowsReport(page, cliJson(cliArgs({ ...ok, tensor: other })), "the next tensor");

  // A vector is no layer: a note, no request, no error.
  await page.click('#tensor-list tr[data-name="layers.0.norm.weight"]');
  await page.waitForSelector('#layer[data-state="idle"][data-tensor="layers.0.norm.weight"]');
  assert.match(await page.textContent("#layer-sub"), /not a layer weight/);
  assert.equal(await page.textContent("#layer-error"), "");
  assert.equal((await layerCharts(page)).bodyHidden, true);
  assertNoProblems(assert, page);
});

test("a large layer waits for Run instead of running when it is selected", async () => {
  const { page } = browser;
  // 1024 x 4097 weights x 64 rows: just over the panel's 2^28 multiply-adds.
  const file = writeSafetensors(
    join(scratch, "wide.safetensors"),
    [{ name: "wide.weight", shape: [1024, 4097] }],
    (i) => Math.sin(i * 0.013) * 0.05,
  );
  await openApp(page, server.url);
  await page.waitForSelector('#layer[data-state="done"]');
  const since = await runs(page);
  await page.setInputFiles("#file-input", file);
  await waitForModel(page, "wide.safetensors");
  await page.waitForSelector('#layer[data-state="idle"][data-tensor="wide.weight"]');
  assert.match(await page.textContent("#layer-sub"), /268,500,992 multiply-adds .* Press Run/);
  assert.equal(await runs(page), since, "nothing ran");
  assert.equal((await layerCharts(page)).bodyHidden, true);

  await page.click("#layer-run");
  const state = await nextAnswer(page, since);
  assert.equal(state.state, "done", await page.textContent("#layer-error"));
  await assertShowsReport(
    page,
    cliJson(cliArgs({ file, tensor: "wide.weight", scheme: "int8-sym-ch0" })),
    "wide",
  );
  const c = await layerCharts(page);
  assert.deepEqual([c.style, c.outputs], ["lines", 512], "the first 512 of 1024 outputs");
  assert.match(await page.textContent("#layer-values-note"), /first 512 of 1024 outputs/);
  assertNoProblems(assert, page);
});
