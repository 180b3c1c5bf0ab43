// The page opens the built-in demo and compares schemes side by side: for a tensor and
// each scheme, exactly the metrics the native CLI computes, one chart layer per scheme.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, test } from "node:test";
import {
  DEMO,
  DIST,
  ROOT,
  assertNoProblems,
  chartCounts,
  chips,
  cliJson,
  cliMetrics,
  cliTry,
  launch,
  metricColumns,
  metricValues,
  openApp,
  pageMetrics,
  serveDist,
  tensorRows,
  urlState,
  waitForAnalysis,
} from "./harness.mjs";

/**
 * The schemes compared side by side; adding a family to the tests is adding its string
 * here (any string `quantscope quantize --scheme` accepts).
 */
const SCHEMES = ["int8-sym-ch0", "int4-asym", "int3-sym-ch1", "int2-asym-ch0"];

/** The tensor they are compared on: a matrix, so that per-channel and per-tensor differ. */
const TENSOR = "layers.0.attn.qkv.weight";

/** Strings the core must reject, whatever families it gains. */
const BAD_SCHEMES = ["bogus9", "int9-sym", "int8-sym-chx"];

/** The most schemes the page compares at once, as the picker says it. */
async function maxSchemes(page) {
  return Number(await page.getAttribute("#scheme-chips", "data-max"));
}

/** The page's default schemes, as the picker says them. */
async function defaultSchemes(page) {
  return (await page.getAttribute("#scheme-chips", "data-defaults")).split(",");
}

/**
 * The string the form now shows, once the core has answered for the last change
 * (#scheme-text[data-checked] is cleared on every change and set on the answer).
 */
async function formString(page) {
  await page.waitForSelector("#scheme-text[data-checked]");
  return page.inputValue("#scheme-text");
}

/** Types `text` into the field and waits until the form shows what the core made of it. */
async function typeScheme(page, text) {
  await page.fill("#scheme-text", text);
  await page.waitForSelector(`#scheme-family[data-form=${JSON.stringify(text)}]`);
}

/** The core's message when it rejects a scheme string (not a tensor), or undefined if it accepts it. */
function coreRejects(scheme) {
  const r = cliTry(["quantize", DEMO, "--scheme", scheme, "--tensor", "head.weight"]);
  return !r.ok && r.message.includes("scheme `") ? r.message : undefined;
}

/** The examples column of docs/SCHEMES.md's table, each with the form's family id. */
const DOC_EXAMPLES = (() => {
  const docs = readFileSync(join(ROOT, "docs/SCHEMES.md"), "utf8");
  const families = {
    linear: "linear",
    convention: "preset",
    ggml: "ggml",
    nf4: "nf4",
    float: "float",
    log: "log",
    vq: "vq",
    mixed: "mixed",
  };
  const examples = [];
  for (const line of docs.split("\n")) {
    // A family is a file (quant/linear.rs) or a folder (quant/ggml/).
    const m = /^\| [^|]*\(quant\/(\w+)(?:\.rs|\/)\) \|[^|]*(?:\\\|[^|]*)*\| (.*) \|$/.exec(line);
    if (!m) continue;
    for (const [, ex] of m[2].matchAll(/`([^`]+)`/g)) examples.push({ family: families[m[1]], ex });
  }
  return examples;
})();

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

/** Waits for the field's message to be non-empty and returns it. */
async function schemeError(page) {
  await page.waitForFunction(() => document.getElementById("scheme-error")?.textContent !== "");
  return page.textContent("#scheme-error");
}

test("dist serves the same demo model the CLI reads", () => {
  assert.ok(
    readFileSync(join(DIST, "demo.safetensors")).equals(readFileSync(DEMO)),
    "dist/ is stale: run `npm run build`",
  );
});

test("demo opens with SIMD128 wasm, the default schemes the core knows, and charts", async () => {
  const { page } = browser;
  await openApp(page, server.url);
  await page.waitForSelector('#build-info[data-simd128="true"]');
  // Relaxed SIMD where the app was built with it (pool.test.mjs tests the choice).
  assert.match(await page.textContent("#build-info"), /WebAssembly (SIMD128|relaxed SIMD) kernels/);
  assert.match(await page.textContent("header"), /never leave/);

  const rows = await tensorRows(page);
  const inspected = cliJson(["inspect", DEMO]);
  assert.deepEqual(
    rows,
    inspected.tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype })),
    "the tensor list is the CLI's inspect list",
  );

  // Defaults this build's core rejects are left out without a message.
  const expected = (await defaultSchemes(page)).filter((s) => coreRejects(s) === undefined);
  assert.ok(expected.length >= 2, `at least two defaults are known to the core (${expected})`);
  assert.deepEqual(await chips(page), expected);
  assert.deepEqual(urlState(page).schemes, expected);
  assert.equal(await page.textContent("#scheme-error"), "");
  await waitForAnalysis(page, undefined, expected);
  assert.deepEqual(await metricColumns(page), expected);

  const c = await chartCounts(page);
  assert.ok(c.weightBars >= 20, `weight histogram has ${c.weightBars} bars`);
  assert.deepEqual(
    c.errorLayers,
    expected.map((scheme) => ({ scheme, drawn: true })),
    "one error histogram per scheme",
  );
  assert.equal(c.gridScheme, expected[0], "the first scheme's grid is shown");
  assert.ok(c.levels > 1 && c.gridRules === c.levels, `one rule per level (${c.gridRules} of ${c.levels})`);
  assert.match(await page.textContent("#grid-note"), new RegExp(expected[0]));
  assertNoProblems(assert, page);
});

test(`side by side: ${SCHEMES.join(", ")} on ${TENSOR} equal the CLI's, one column and one layer each`, async () => {
  const { page } = browser;
  await openApp(page, `${server.url}?schemes=${SCHEMES.join(",")}&tensor=${TENSOR}`);
  await waitForAnalysis(page, TENSOR, SCHEMES);
  assert.deepEqual(await chips(page), SCHEMES);
  assert.deepEqual(await metricColumns(page), SCHEMES, "one metrics column per scheme, in order");
  const shown = await pageMetrics(page);
  assert.deepEqual(Object.keys(shown), SCHEMES);
  for (const s of SCHEMES) {
    const cli = cliMetrics(TENSOR, s);
    assert.deepEqual(shown[s], cli, `${s}: the page's numbers are the CLI's`);
  }

  const describe = await page.$$eval("#scheme-describe li", (lis) => lis.map((li) => li.dataset.scheme));
  assert.deepEqual(describe, SCHEMES, "one describe line per scheme");

  const c = await chartCounts(page);
  assert.deepEqual(
    c.errorLayers,
    SCHEMES.map((scheme) => ({ scheme, drawn: true })),
    "one error histogram layer per scheme",
  );
  assert.deepEqual(c.gridToggles, [...SCHEMES, ""], "a grid button per scheme, and none");
  // Per-channel schemes have a line of scales each.
  const perChannel = SCHEMES.filter((s) => /-ch\d/.test(s));
  assert.equal(c.scalesHidden, perChannel.length === 0);
  for (const s of perChannel)
    assert.ok(
      c.scalesLayers.some((l) => l.scheme === s && l.drawn),
      `${s} has its scales line`,
    );

  // Each grid button shows that scheme's grid, and "none" hides the grid.
  for (const s of SCHEMES) {
    await page.click(`#grid-toggle button[data-grid=${JSON.stringify(s)}]`);
    const g = await chartCounts(page);
    assert.equal(g.gridScheme, s);
    assert.ok(g.levels > 1 && g.gridRules === g.levels, `${s}: ${g.gridRules} rules for ${g.levels} levels`);
    assert.equal(
      await page.getAttribute(`#grid-toggle button[data-grid=${JSON.stringify(s)}]`, "aria-pressed"),
      "true",
    );
  }
  await page.click('#grid-toggle button[data-grid=""]');
  assert.equal((await chartCounts(page)).gridRules, 0);
  assertNoProblems(assert, page);
});

test("schemes are added by text and by the form, removed by their chip", async () => {
  const { page } = browser;
  await openApp(page, `${server.url}?schemes=int8-sym-ch0&tensor=${TENSOR}`);
  await waitForAnalysis(page, TENSOR, ["int8-sym-ch0"]);
  assert.equal(
    await page.isDisabled('#scheme-chips [data-scheme="int8-sym-ch0"] .chip-remove'),
    true,
    "the last chip stays",
  );

  // Typed text, applied with Enter.
  await page.fill("#scheme-text", "int4-asym");
  await page.press("#scheme-text", "Enter");
  await waitForAnalysis(page, TENSOR, ["int8-sym-ch0", "int4-asym"]);

  // The form: every choice rewrites the string, and Add takes it.
  await page.selectOption("#scheme-family", "linear");
  await page.selectOption('#scheme-options select[data-option="bits"]', "3");
  await page.selectOption('#scheme-options select[data-option="mode"]', "asym");
  await page.selectOption('#scheme-options select[data-option="granularity"]', "ch");
  await page.fill('#scheme-options input[data-option="axis"]', "1");
  await page.dispatchEvent('#scheme-options input[data-option="axis"]', "change");
  assert.equal(await formString(page), "int3-asym-ch1");
  await page.click("#scheme-add");
  const three = ["int8-sym-ch0", "int4-asym", "int3-asym-ch1"];
  await waitForAnalysis(page, TENSOR, three);
  assert.deepEqual(await chips(page), three);
  assert.deepEqual(urlState(page), { schemes: three, tensor: TENSOR });
  const shown = await pageMetrics(page);
  for (const s of three) {
    const cli = cliMetrics(TENSOR, s);
    assert.deepEqual(shown[s], cli, s);
  }

  // Adding one again says so and changes nothing.
  await page.fill("#scheme-text", "int4-asym");
  await page.press("#scheme-text", "Enter");
  assert.match(await schemeError(page), /already compared/);
  assert.deepEqual(await chips(page), three);

  // Removing a chip removes its column and its layer.
  await page.click('#scheme-chips [data-scheme="int4-asym"] .chip-remove');
  const two = ["int8-sym-ch0", "int3-asym-ch1"];
  await waitForAnalysis(page, TENSOR, two);
  assert.deepEqual(await metricColumns(page), two);
  assert.deepEqual(
    (await chartCounts(page)).errorLayers.map((l) => l.scheme),
    two,
  );
  assert.deepEqual(urlState(page).schemes, two);
  assertNoProblems(assert, page);
});

test("a scheme the core rejects shows the core's message and changes nothing", async () => {
  const { page } = browser;
  const start = ["int8-sym-ch0", "int4-asym"];
  await openApp(page, `${server.url}?schemes=${start.join(",")}&tensor=${TENSOR}`);
  await waitForAnalysis(page, TENSOR, start);
  const before = { url: page.url(), metrics: await pageMetrics(page) };
  for (const bad of BAD_SCHEMES) {
    const message = coreRejects(bad);
    assert.ok(message, `the CLI rejects ${bad}`);
    await page.fill("#scheme-text", bad);
    await page.press("#scheme-text", "Enter");
    assert.equal(await schemeError(page), message, `${bad}: the page shows the core's message`);
    assert.equal(await page.getAttribute("#scheme-text", "aria-invalid"), "true");
    assert.deepEqual(await chips(page), start);
    assert.equal(await page.getAttribute("#detail", "data-schemes"), start.join(","));
    assert.equal(page.url(), before.url);
  }
  assert.deepEqual(await pageMetrics(page), before.metrics);
  assertNoProblems(assert, page);
});

test("every family in the form: the core's message where this build lacks it, none where it has it", async () => {
  const { page } = browser;
  await openApp(page, `${server.url}?schemes=int8-sym`);
  const families = await page.$$eval("#scheme-family option", (os) => os.map((o) => o.value));
  assert.ok(families.length >= 8, `the form offers every family of docs/SCHEMES.md (${families})`);
  for (const f of families) {
    await page.selectOption("#scheme-family", f);
    const built = await formString(page);
    assert.notEqual(built, "", `${f} builds a string`);
    const rejected = coreRejects(built);
    assert.equal(await page.textContent("#scheme-error"), rejected ?? "", `${f}: ${built}`);
    // Where this build has the family (the core takes one of its documented examples),
    // the form's default string must be one the core takes too.
    const known = DOC_EXAMPLES.filter((e) => e.family === f && coreRejects(e.ex) === undefined);
    if (known.length > 0)
      assert.equal(rejected, undefined, `${f}: the core takes ${known[0].ex} but not the form's ${built}`);
  }
  assert.deepEqual(await chips(page), ["int8-sym"], "choosing in the form adds nothing by itself");
  assertNoProblems(assert, page);
});

test("every example of docs/SCHEMES.md selects its family in the form and rebuilds to itself", async () => {
  const { page } = browser;
  const examples = DOC_EXAMPLES;
  assert.ok(examples.length >= 15, `found the examples (${examples.length})`);
  await openApp(page, `${server.url}?schemes=int8-sym`);
  for (const { family, ex } of examples) {
    assert.ok(family, `${ex}: a family of the table`);
    await typeScheme(page, ex);
    assert.equal(await page.inputValue("#scheme-family"), family, `${ex} is a ${family} string`);
    // Re-applying the form's first option rebuilds the string from the parameters.
    await page.dispatchEvent("#scheme-options [data-option] >> nth=0", "change");
    assert.equal(await formString(page), ex, `${ex} survives parse and build`);
  }
  assertNoProblems(assert, page);
});

/** The wasm core in Node (www/pkg), the same build the page runs. */
async function nodeCore() {
  const core = await import(pathToFileURL(join(ROOT, "www/pkg/quantscope.js")).href);
  core.initSync({ module: readFileSync(join(ROOT, "www/pkg/quantscope_bg.wasm")) });
  return core;
}

test("the charts plot the core's histograms: bins, edges and bar heights", async () => {
  const { page } = browser;
  const schemes = ["int8-sym-ch0", "int4-asym", "int3-sym-ch1"];
  await openApp(page, `${server.url}?schemes=${schemes.join(",")}&tensor=${TENSOR}`);
  await waitForAnalysis(page, TENSOR, schemes);
  const shown = await page.evaluate(() => {
    const w = document.getElementById("chart-weights");
    const e = document.getElementById("chart-error");
    return {
      weights: JSON.parse(w.dataset.plotted),
      heights: [...w.querySelectorAll("svg g.weights-bars rect")].map((r) =>
        Number(r.getAttribute("height")),
      ),
      errors: JSON.parse(e.dataset.plotted),
    };
  });
  const core = await nodeCore();
  const model = new core.Model(readFileSync(DEMO), "demo.safetensors");
  const bins = shown.weights.length;
  assert.ok(bins >= 16, `the weight chart has its bins (${bins})`);
  const asBins = (h) => {
    const w = (h.hi - h.lo) / h.counts.length;
    return h.counts.map((c, i) => [h.lo + i * w, h.lo + (i + 1) * w, c]);
  };
  const close = (a, b, what) => {
    assert.equal(a.length, b.length, `${what}: bin count`);
    a.forEach(([x1, x2, c], i) => {
      const [y1, y2, d] = b[i];
      assert.equal(c, d, `${what}: bin ${i} count`);
      // Edges in f64 on both sides from f32 lo/hi: equal up to rounding.
      assert.ok(
        Math.abs(x1 - y1) <= 1e-6 * Math.max(1, Math.abs(y1)),
        `${what}: bin ${i} left edge ${x1} vs ${y1}`,
      );
      assert.ok(
        Math.abs(x2 - y2) <= 1e-6 * Math.max(1, Math.abs(y2)),
        `${what}: bin ${i} right edge ${x2} vs ${y2}`,
      );
    });
  };
  for (const scheme of schemes) {
    const r = model.analyze(TENSOR, scheme, bins);
    if (scheme === schemes[0]) {
      close(shown.weights, asBins(r.weights), "weights");
      // The bars drawn: one per bin, each as tall as its count (relative to the tallest).
      assert.equal(shown.heights.length, bins, "one bar per bin");
      const maxH = Math.max(...shown.heights);
      const maxC = Math.max(...r.weights.counts);
      shown.heights.forEach((h, i) =>
        assert.ok(
          Math.abs(h / maxH - r.weights.counts[i] / maxC) < 0.01,
          `bar ${i}: height ${h} for count ${r.weights.counts[i]}`,
        ),
      );
    }
    close(shown.errors[scheme], asBins(r.error), `${scheme} error`);
  }
  model.free();
  assertNoProblems(assert, page);
});

test("every canonical string the core prints round-trips through the page's form", async () => {
  const { page } = browser;
  // The core's own list: every family's defaults and each option's every choice.
  const core = await nodeCore();
  const examples = core.schemeExamples();
  assert.ok(examples.length > 60, `the core lists its strings (${examples.length})`);
  assert.ok(
    examples.includes("ort-int8-sym-ch0-reduced-kl"),
    "with `-reduced` before the range, as the core prints it",
  );
  await openApp(page, `${server.url}?schemes=int8-sym`);
  const failures = [];
  for (const ex of examples) {
    await typeScheme(page, ex);
    // Each option control as the form drew it, read back by re-applying the first one.
    await page.dispatchEvent("#scheme-options [data-option] >> nth=0", "change");
    const back = await formString(page);
    if (back !== ex) failures.push(`${ex} -> ${back}`);
    assert.equal(await page.textContent("#scheme-error"), "", `${ex}: no message`);
  }
  assert.deepEqual(failures, [], "strings the form changed");
  assertNoProblems(assert, page);
});

/**
 * Strings of every family beyond the documented examples: the other ggml block types,
 * the other float casts. With the examples of docs/SCHEMES.md, each family has one.
 */
const MORE_SCHEMES = ["q8_0", "q4_1", "q5_0", "q5_1", "q4_k", "q6_k", "fp16", "bf16", "fp8-e5m2", "fp4"];

/**
 * The tensors of the family comparison: fc2 [64, 256] takes every family (the K-quants
 * need 256 values along the last axis); qkv [192, 64] has the outlier input columns the
 * mixed schemes keep, and some families refuse it.
 */
const FAMILY_TENSORS = ["layers.0.mlp.fc2.weight", "layers.0.attn.qkv.weight"];

test("every scheme family: the page's metrics are `quantscope compare --json`'s, or its message", async () => {
  const { page } = browser;
  const asked = [...new Set([...DOC_EXAMPLES.map((e) => e.ex), ...MORE_SCHEMES])];
  // Canonical strings as the core prints them (the page shows the same), on a tensor
  // every family takes; this also requires every family to be in this build.
  const canonical = cliJson([
    "compare",
    DEMO,
    "--schemes",
    asked.join(","),
    "--tensor",
    FAMILY_TENSORS[0],
  ]).map((r) => r.scheme);
  assert.equal(canonical.length, asked.length);
  const families = new Set(DOC_EXAMPLES.map((e) => e.family));
  assert.ok(families.size >= 8, `docs/SCHEMES.md names every family (${[...families]})`);

  const expected = (tensor, scheme) => {
    const r = cliTry(["compare", DEMO, "--schemes", scheme, "--tensor", tensor]);
    return r.ok ? { metrics: metricValues(r.json[0]) } : { error: r.message };
  };
  const shownFailures = () =>
    page.$$eval("#metrics thead th[data-scheme]", (ths) =>
      Object.fromEntries(ths.map((th) => [th.dataset.scheme, th.title])),
    );
  let refusals = 0;
  // As many at a time as the page compares; the tensor list switches the tensor.
  await openApp(page, `${server.url}?schemes=int8-sym`);
  const max = await maxSchemes(page);
  for (let i = 0; i < canonical.length; i += max) {
    const chunk = canonical.slice(i, i + max);
    await openApp(page, `${server.url}?schemes=${chunk.join(",")}&tensor=${FAMILY_TENSORS[0]}`);
    for (const tensor of FAMILY_TENSORS) {
      await page.click(`#tensor-list tr[data-name="${tensor}"]`);
      await waitForAnalysis(page, tensor, chunk);
      const shown = await pageMetrics(page);
      const failures = await shownFailures();
      for (const s of chunk) {
        const want = expected(tensor, s);
        if (want.error) {
          refusals++;
          assert.equal(failures[s], want.error, `${s} on ${tensor}: the core's message`);
          assert.equal(shown[s]?.sqnr_db, undefined, `${s} on ${tensor}: no numbers`);
        } else {
          assert.deepEqual(shown[s], want.metrics, `${s} on ${tensor}: the CLI's numbers`);
        }
      }
    }
  }
  // The K-quants' 256-value blocks do not fit qkv's rows of 64: a refusal is tested too.
  assert.ok(refusals > 0, "some family refuses a tensor");
  assertNoProblems(assert, page);
});

test("the URL keeps the schemes and the tensor; an old ?scheme= link still opens", async () => {
  const { page } = browser;
  const first = ["int4-asym", "int8-sym-ch0"];
  const tensor = "layers.0.mlp.fc2.weight";
  await openApp(page, `${server.url}?schemes=${first.join(",")}&tensor=${tensor}`);
  await waitForAnalysis(page, tensor, first);
  assert.equal(await page.getAttribute(`#tensor-list tr[data-name="${tensor}"]`, "aria-selected"), "true");

  // Change both, then reload: the link restores the view.
  const other = "layers.0.mlp.fc1.weight";
  await page.click(`#tensor-list tr[data-name="${other}"]`);
  await waitForAnalysis(page, other, first);
  await page.fill("#scheme-text", "int2-sym-ch0");
  await page.press("#scheme-text", "Enter");
  const three = [...first, "int2-sym-ch0"];
  await waitForAnalysis(page, other, three);
  assert.deepEqual(urlState(page), { schemes: three, tensor: other });
  assert.match(page.url(), /schemes=int4-asym,int8-sym-ch0,int2-sym-ch0/, "commas stay readable");
  const metrics = await pageMetrics(page);
  await page.reload();
  await waitForAnalysis(page, other, three);
  assert.deepEqual(await chips(page), three);
  assert.deepEqual(await pageMetrics(page), metrics);

  // The single-scheme links of earlier versions.
  await openApp(page, `${server.url}?scheme=int3-asym-ch0`);
  await waitForAnalysis(page, undefined, ["int3-asym-ch0"]);
  assert.deepEqual(urlState(page).schemes, ["int3-asym-ch0"]);
  assert.equal(new URL(page.url()).searchParams.get("scheme"), null, "rewritten as schemes=");

  // A scheme in the link that the core rejects is reported and left out.
  await openApp(page, `${server.url}?schemes=int8-sym,bogus9`);
  await waitForAnalysis(page, undefined, ["int8-sym"]);
  assert.ok((await page.textContent("#scheme-error")).includes(coreRejects("bogus9")));
  assert.deepEqual(urlState(page).schemes, ["int8-sym"]);
  assertNoProblems(assert, page);
});

/**
 * Where the screenshots go: test-results/screenshots/ (ignored) on every run; the
 * README's committed docs/*.png only when asked, `QUANTSCOPE_UPDATE_DOCS=1 npm run
 * test:e2e`, so that a test run leaves the tree as it was.
 */
const SHOTS =
  process.env.QUANTSCOPE_UPDATE_DOCS === "1" ? join(ROOT, "docs") : join(ROOT, "test-results", "screenshots");

test("screenshot for the README", async () => {
  const { page } = browser;
  await page.setViewportSize({ width: 1280, height: 900 });
  await openApp(page, server.url);
  await page.waitForSelector('#summary[data-state="done"]');
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, "screenshot.png") });
  // The layer panel sits below the fold: its own picture, on a weight with few outputs.
  await page.click('#tensor-list tr[data-name="layers.0.attn.out.weight"]');
  await page.waitForSelector('#layer[data-state="done"][data-tensor="layers.0.attn.out.weight"]');
  await page.locator("#layer").screenshot({ path: join(SHOTS, "layer.png") });
  assertNoProblems(assert, page);
});
