// Model.export in wasm writes the same bytes and report as `quantscope quantize -o`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { initSync, Model } from "quantscope/core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
initSync({ module: readFileSync(path.join(root, "www/pkg/quantscope_bg.wasm")) });
const cli = path.join(root, "target/release/quantscope");

function viaCli(input, scheme, ext) {
  const dir = mkdtempSync(path.join(tmpdir(), "quantscope-export-"));
  try {
    const out = path.join(dir, `out.${ext}`);
    const rep = path.join(dir, "report.json");
    execFileSync(cli, ["quantize", input, "--scheme", scheme, "-o", out, "--report", rep]);
    return { bytes: readFileSync(out), report: JSON.parse(readFileSync(rep, "utf8")) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cases = [
  ["www/public/demo.safetensors", "gguf", "q4_0"],
  ["www/public/demo.safetensors", "gguf", "fp16"],
  ["www/public/demo.safetensors", "safetensors", "int4-asym-group32"],
  ["tests/fixtures/formats2/onnx/weights.onnx", "onnx", "int8-sym-ch0"],
  ["tests/fixtures/formats2/onnx/weights.onnx", "onnx", "int4-asym-group2"],
];

for (const [file, format, scheme] of cases) {
  test(`export ${format} ${scheme} of ${path.basename(file)} equals the CLI's file`, () => {
    const input = path.join(root, file);
    const bytes = readFileSync(input);
    const model = new Model(bytes, path.basename(file));
    const got = model.export(format, scheme);
    model.free();
    const want = viaCli(input, scheme, format);
    assert.ok(got.bytes instanceof Uint8Array);
    assert.equal(got.bytes.length, want.bytes.length);
    assert.ok(Buffer.from(got.bytes).equals(want.bytes), "bytes differ");
    // Through JSON, as the CLI wrote it (an infinite SQNR is null there).
    assert.deepEqual(JSON.parse(JSON.stringify(got.report)), want.report);
  });
}

test("export refuses what it cannot write, with the reason", () => {
  const model = new Model(readFileSync(path.join(root, "www/public/demo.safetensors")), "demo");
  assert.throws(() => model.export("onnx", "int8-sym"), /open an \.onnx file/);
  // The ONNX model is told by its content, not its name: renamed, it still exports.
  const onnx = readFileSync(path.join(root, "tests/fixtures/formats2/onnx/weights.onnx"));
  const renamed = new Model(onnx, "weights.bin");
  const want = viaCli(path.join(root, "tests/fixtures/formats2/onnx/weights.onnx"), "int8-sym-ch0", "onnx");
  assert.ok(Buffer.from(renamed.export("onnx", "int8-sym-ch0").bytes).equals(want.bytes));
  renamed.free();
  assert.throws(() => model.export("pdf", "int8-sym"), /onnx, gguf or safetensors/);
  assert.throws(() => model.export("gguf", "int8-sym-ch0"), /no GGUF tensor type/);
  assert.throws(() => model.export("safetensors", "kmeans16"), /`kmeans16`/);
  model.free();
});
