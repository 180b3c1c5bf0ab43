// The npm package in Node: the typed Lab API ("quantscope") and the raw binding
// ("quantscope/core") open a model, analyze a tensor, and give the numbers the native
// CLI prints. (tests/e2e/package_consumer.test.mjs installs the packed tarball.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import * as quantscope from "quantscope/core";
import { initSync, Model, buildInfo, parseScheme, schemePresets } from "quantscope/core";
import { Quantscope } from "quantscope";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
initSync({ module: readFileSync(path.join(root, "www/pkg/quantscope_bg.wasm")) });

const demoPath = path.join(root, "www/public/demo.safetensors");
const cli = path.join(root, "target/release/quantscope");

test("the package is the SIMD128 build", () => {
  const info = buildInfo();
  assert.equal(info.simd128, true);
  assert.equal(info.kernels, "simd128");
});

test("the package leaves out the benchmark hooks and raw kernel entry points", () => {
  assert.equal(buildInfo().bench_hooks, false);
  for (const hook of ["BenchTensor", "GgmlBench", "LinearI8", "LinearF32", "LinearQ4"]) {
    assert.equal(quantscope[hook], undefined, `${hook} is exported by the public build`);
  }
  assert.equal(typeof quantscope.Model, "function");
});

test("schemes parse to canonical strings and bad ones throw with the reason", () => {
  assert.equal(parseScheme("INT8-sym-ch"), "int8-sym-ch0");
  assert.ok(schemePresets().includes("int8-sym-ch0"));
  assert.throws(() => parseScheme("int12"), /between 2 and 8/);
});

test("analyze in wasm equals the native CLI, tensor by tensor", () => {
  const model = new Model(readFileSync(demoPath), "demo.safetensors");
  const info = model.info();
  const cliInfo = JSON.parse(execFileSync(cli, ["inspect", demoPath, "--json"], { encoding: "utf8" }));
  assert.deepEqual(info, cliInfo);
  for (const scheme of ["int8-sym-ch0", "int8-asym"]) {
    const rows = JSON.parse(
      execFileSync(cli, ["quantize", demoPath, "--scheme", scheme, "--json"], { encoding: "utf8" }),
    );
    assert.equal(rows.length, info.tensors.length);
    for (const row of rows) {
      const r = model.analyze(row.name, scheme, 64);
      assert.equal(r.metrics.mse, row.metrics.mse, `${scheme} ${row.name} mse`);
      assert.equal(r.metrics.sqnr_db, row.metrics.sqnr_db ?? Infinity, `${scheme} ${row.name} sqnr`);
      assert.equal(r.metrics.cosine, row.metrics.cosine);
      assert.equal(r.metrics.max_abs_error, row.metrics.max_abs_error);
      assert.equal(r.packed_bytes, row.packed_bytes);
      assert.equal(
        r.weights.counts.reduce((a, b) => a + b, 0),
        row.numel,
      );
      assert.equal(r.error.counts.length, 64);
    }
  }
  model.free();
});

test("a broken file throws an Error naming the problem", () => {
  const bytes = readFileSync(path.join(root, "tests/fixtures/formats/truncated.safetensors"));
  assert.throws(() => new Model(bytes, "truncated.safetensors"), /bytes follow/);
});

test("the Lab API in Node: summarize and export equal the CLI, a bad file rejects naming it", async () => {
  const lab = await Quantscope.open(demoPath);
  assert.equal(lab.build.build, "simd128");
  const rows = await lab.summarize(["int8-sym-ch0"]);
  const cliRows = JSON.parse(
    execFileSync(cli, ["quantize", demoPath, "--scheme", "int8-sym-ch0", "--json"], { encoding: "utf8" }),
  );
  assert.equal(rows.length, cliRows.length);
  for (const [i, row] of cliRows.entries()) {
    assert.equal(rows[i].name, row.name);
    assert.equal(rows[i].metrics.mse, row.metrics.mse, row.name);
  }
  const { bytes, report } = await lab.export("gguf", "q8_0");
  assert.equal(report.tensors.length, lab.tensors.length);
  assert.ok(bytes.length > 0);
  await assert.rejects(
    Quantscope.open(path.join(root, "tests/fixtures/formats/truncated.safetensors")),
    /bytes follow/,
  );
  const schemes = Quantscope.schemes();
  assert.equal(await schemes.parse("INT8-sym-ch"), "int8-sym-ch0");
  await assert.rejects(schemes.parse("int12"), /between 2 and 8/);
});

test("the Lab API in Node: a whole-model run, the automatic search for a GGUF file, a training run", async () => {
  const onnx = path.join(root, "tests/fixtures/auto/mlp.onnx");
  const lab = await Quantscope.open(onnx);
  const run = await lab.run({ scheme: "int8-sym-ch0" });
  const cliRun = JSON.parse(
    execFileSync(cli, ["run", onnx, "--scheme", "int8-sym-ch0", "--json"], { encoding: "utf8" }),
  );
  assert.deepEqual(
    run.nodes.map((n) => n.node),
    cliRun.nodes.map((n) => n.node),
  );
  const { report } = await lab.auto({ format: "gguf", objective: "output" });
  assert.deepEqual(report.candidates, ["q8_0", "q4_k", "float"]);
  assert.ok(report.notes.some((n) => n.includes("GGUF cannot store them")));
  assert.ok(report.front.length > 0);

  const trainer = Quantscope.trainer();
  const data = await trainer.data();
  assert.equal(data.classes, 10);
  // The warm-up runs throwaway epochs on the built-in digits (tests/e2e/train.test.mjs
  // checks a run after the page's warm-up against the CLI).
  const warm = await trainer.warmUp(300);
  assert.ok(warm >= 1, `the warm-up ran ${warm} epochs`);
  const r = await trainer.train({ method: "ptq", float_epochs: 1 });
  assert.ok(r.float_accuracy > 30 && r.float_accuracy <= 100, `accuracy ${r.float_accuracy} %`);
  const bytes = await trainer.exportRun(r, "safetensors");
  assert.ok(bytes.length > 0);
});
