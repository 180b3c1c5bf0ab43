// The npm package as a new user gets it: `npm pack`, install the tarball into an empty
// project, type-check a file that uses its types, build the project with Vite (its
// default configuration), open it in Chromium, and there embed <quantscope-playground>
// and call the API. The numbers are the native CLI's for the same file and scheme. The
// same installed package in Node gives them too.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  CLI,
  DEMO,
  ROOT,
  assertNoProblems,
  bySummaryKey,
  cliJson,
  cliSummary,
  launch,
  metricValues,
  serveDist,
  summaryRows,
  tensorRows,
} from "./harness.mjs";

const SCHEMES = ["int8-sym-ch0", "int8-asym", "q4_0"];
const CONVNET = join(ROOT, "tests/fixtures/graph/convnet.onnx");

let project;
let tarball;
before(() => {
  project = mkdtempSync(join(tmpdir(), "quantscope-consumer-"));
  // The package's own prepack builds the wasm; `npm test` has built it already.
  const packed = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", project], {
    cwd: ROOT,
    encoding: "utf8",
  });
  tarball = JSON.parse(packed)[0];
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  // The package has no dependencies (Comlink and Plot are bundled): nothing is fetched.
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--offline", join(project, tarball.filename)], {
    cwd: project,
    stdio: "pipe",
  });
});
after(() => rmSync(project, { recursive: true, force: true }));

test("the tarball holds the package and no benchmark hooks", () => {
  const files = tarball.files.map((f) => f.path);
  for (const f of [
    "package/index.js",
    "package/element.js",
    "package/worker.js",
    "package/train-worker.js",
    "package/node.js",
    "package/quantscope_bg.wasm",
    "package/style.css",
    "package/types/lib/index.d.ts",
    "package/types/lib/node.d.ts",
    "package/types/lib/element.d.ts",
  ])
    assert.ok(files.includes(f), `${f} is not in the tarball`);
  const dts = readFileSync(join(project, "node_modules/quantscope/www/pkg/quantscope.d.ts"), "utf8");
  for (const hook of ["BenchTensor", "GgmlBench", "LinearI8"])
    assert.ok(!dts.includes(hook), `${hook} is public`);
  const api = readFileSync(join(project, "node_modules/quantscope/package/types/lib/lab.d.ts"), "utf8");
  assert.ok(!/\bany\b/.test(api), "the Lab's declarations use `any`");
});

test("tsc accepts a consumer file that uses the types, and rejects a wrong one", () => {
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "ESNext",
        moduleResolution: "bundler",
        strict: true,
        noEmit: true,
        lib: ["ES2022", "DOM"],
        types: [],
      },
      files: ["typed.ts"],
    }),
  );
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  const good = `import { Quantscope, type Lab, type TensorReport, type SummaryRow, type RunReport } from "quantscope";
import { PLAYGROUND_TAG } from "quantscope/element";
export async function use(file: File): Promise<number> {
  const lab: Lab = await Quantscope.open(file);
  const r: TensorReport = await lab.analyze(lab.tensors[0]!.name, "int8-sym-ch0");
  const rows: SummaryRow[] = await lab.summarize(["q4_0"]);
  const run: RunReport = await lab.run({ scheme: "int8-sym-ch0", mode: "full" });
  return r.metrics.mse + rows.length + run.nodes.length + PLAYGROUND_TAG.length;
}
`;
  writeFileSync(join(project, "typed.ts"), good);
  execFileSync(process.execPath, [tsc, "-p", project], { cwd: project, stdio: "pipe" });
  // A wrong field is an error: the results are typed, not `any`.
  writeFileSync(join(project, "typed.ts"), good.replace("r.metrics.mse", "r.metrics.msee"));
  const r = (() => {
    try {
      execFileSync(process.execPath, [tsc, "-p", project], { cwd: project, encoding: "utf8" });
      return "";
    } catch (e) {
      return String(e.stdout);
    }
  })();
  assert.match(r, /msee/);
});

test("in Node, the installed package gives the CLI's numbers", () => {
  const script = `
import { Quantscope } from "quantscope";
const lab = await Quantscope.open(${JSON.stringify(DEMO)});
const rows = await lab.summarize(${JSON.stringify(SCHEMES)});
const run = await (await Quantscope.open(${JSON.stringify(CONVNET)})).run({ scheme: "int8-sym-ch0", seed: 0 });
console.log(JSON.stringify({ info: lab.info, rows, run }));
`;
  writeFileSync(join(project, "node-script.mjs"), script);
  const out = JSON.parse(
    execFileSync(process.execPath, ["node-script.mjs"], { cwd: project, encoding: "utf8" }),
  );
  const info = cliJson(["inspect", DEMO]);
  assert.deepEqual({ ...out.info, lazy: undefined }, { ...info, lazy: undefined });
  assertRowsEqualCli(out.rows);
  const cli = cliJson(["run", CONVNET, "--scheme", "int8-sym-ch0", "--seed", "0"]);
  assert.deepEqual(
    out.run.nodes.map((n) => n.node),
    cli.nodes.map((n) => n.node),
  );
  for (let i = 0; i < cli.nodes.length; i++) {
    const a = out.run.nodes[i].accumulated?.sqnr_db ?? null;
    const b = cli.nodes[i].accumulated?.sqnr_db ?? null;
    if (a === null || b === null) assert.equal(a, b);
    else assert.ok(Math.abs(a - b) <= 0.05, `${cli.nodes[i].node}: package ${a} dB, CLI ${b} dB`);
  }
});

/**
 * Rows of `lab.summarize` against `quantscope quantize --json` (harness.cliSummary: a
 * tensor the CLI cannot encode under a scheme gives its message, as the row does).
 */
function assertRowsEqualCli(rows) {
  const names = [...new Set(rows.map((r) => r.name))];
  const mine = rows.map((r) =>
    "error" in r
      ? { name: r.name, scheme: r.scheme, error: r.error }
      : { name: r.name, scheme: r.scheme, numel: String(r.numel), ...metricValues(r) },
  );
  assert.deepEqual(bySummaryKey(mine), cliSummary(DEMO, names, SCHEMES));
  assert.ok(mine.some((r) => r.error) && mine.some((r) => !r.error), "both kinds of row are compared");
}

test("built with Vite and opened in Chromium: the element shows the model and the API gives the CLI's numbers", async () => {
  const site = join(project, "site");
  mkdirSync(join(site, "public"), { recursive: true });
  copyFileSync(DEMO, join(site, "public/demo.safetensors"));
  writeFileSync(
    join(site, "index.html"),
    `<!doctype html>
<html><head><meta charset="utf-8"><title>consumer</title><link rel="icon" href="data:," /></head>
<body>
  <h1 id="host-title">A page that embeds quantscope</h1>
  <quantscope-playground src="demo.safetensors" schemes="${SCHEMES.join(",")}"></quantscope-playground>
  <pre id="api-result"></pre>
  <script type="module" src="./main.js"></script>
</body></html>`,
  );
  writeFileSync(
    join(site, "main.js"),
    `import { Quantscope } from "quantscope";
import "quantscope/element";
const out = document.getElementById("api-result");
try {
  const blob = await (await fetch("demo.safetensors")).blob();
  const lab = await Quantscope.open(new File([blob], "demo.safetensors"));
  const rows = await lab.summarize(${JSON.stringify(SCHEMES)});
  const name = lab.tensors.find((t) => t.shape.length === 2).name;
  const compared = await lab.compare(name, ["int8-sym-ch0", "int12"]);
  const exported = await lab.export("safetensors", "int8-sym-ch0");
  let bad = "";
  try { await Quantscope.open(new File([blob.slice(0, 100)], "cut.safetensors")); } catch (e) { bad = e.message; }
  const trainer = Quantscope.trainer();
  const trained = await trainer.train({ method: "ptq", float_epochs: 2 });
  out.textContent = JSON.stringify({ build: lab.build, rows, name, compared, exportedBytes: exported.bytes.length,
    exportReport: exported.report, bad, trained: { accuracy: trained.float_accuracy, curve: trained.curve.length } });
  lab.close();
  trainer.close();
} catch (e) {
  out.textContent = JSON.stringify({ failed: String(e && e.stack || e) });
}
out.dataset.done = "1";
`,
  );
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules/vite/bin/vite.js"), "build", "--logLevel", "warn"],
    {
      cwd: site,
      stdio: "pipe",
      env: { ...process.env, NODE_PATH: "" },
    },
  );
  const assets = readdirSync(join(site, "dist/assets"));
  assert.ok(
    assets.some((f) => f.endsWith(".wasm")),
    `no wasm among the built assets: ${assets.join(", ")}`,
  );

  const server = await serveDist(join(site, "dist"));
  const browser = await launch();
  try {
    const { page } = browser;
    await page.goto(server.url);
    await page.waitForSelector("#api-result[data-done]", { timeout: 180_000 });
    const result = JSON.parse(await page.textContent("#api-result"));
    assert.ok(!result.failed, result.failed);
    assert.equal(result.build.build, "simd128");
    assertRowsEqualCli(result.rows);
    const cliRow = cliJson(["quantize", DEMO, "--scheme", "int8-sym-ch0", "--tensor", result.name])[0];
    assert.equal(result.compared[0].report.metrics.mse, cliRow.metrics.mse);
    assert.match(result.compared[1].error, /between 2 and 8/);
    // The same file the CLI writes.
    const written = join(project, "demo-int8.safetensors");
    execFileSync(CLI, ["quantize", DEMO, "--scheme", "int8-sym-ch0", "-o", written]);
    assert.equal(result.exportedBytes, readFileSync(written).length);
    assert.match(result.bad, /truncated|bytes|header/i);
    assert.ok(
      result.trained.accuracy > 30 && result.trained.accuracy <= 100,
      `accuracy ${result.trained.accuracy} %`,
    );
    assert.ok(result.trained.curve >= 2);

    // The element: the demo's tensors listed, the whole-model table filled for the
    // attribute's schemes, and the host page's own heading left unstyled by ours.
    await page.waitForSelector('quantscope-playground #summary[data-state="done"]', { timeout: 120_000 });
    const names = (await tensorRows(page)).map((t) => t.name);
    assert.ok(names.length > 0);
    assert.deepEqual(bySummaryKey(await summaryRows(page)), cliSummary(DEMO, names, SCHEMES));
    // The element's stylesheet loaded (from the built assets) and styles its own heading,
    // not the host page's.
    assert.ok(await page.$eval("#quantscope-playground-style", (l) => l.sheet !== null));
    assert.equal(await page.$eval("quantscope-playground h1", (h) => getComputedStyle(h).fontWeight), "600");
    assert.equal(await page.$eval("#host-title", (h) => getComputedStyle(h).fontWeight), "700");
    const chips = await page.$$eval("quantscope-playground #scheme-chips [data-scheme]", (els) =>
      els.map((e) => e.dataset.scheme),
    );
    assert.deepEqual(chips, SCHEMES);
    assert.equal(new URL(page.url()).search, "", "an embedded playground left the host's URL alone");
    assertNoProblems(assert, page);
  } finally {
    await browser.close();
    await server.close();
  }
});
