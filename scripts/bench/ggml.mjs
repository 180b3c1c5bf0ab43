// ggml Q8_0 / Q4_0 quantize throughput in wasm (SIMD128 benchmark build, www/pkg-bench) under Node, on
// a 4096x4096 f32 tensor, against the Python gguf package on the same tensor in the
// same run. `npm run bench:ggml` (builds www/pkg-bench first). Results: docs/BENCHMARKS.md.
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import os from "node:os";
import path from "node:path";
import { initSync, GgmlBench, BenchTensor, buildInfo } from "../../www/pkg-bench/quantscope.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
initSync({ module: readFileSync(path.join(root, "www/pkg-bench/quantscope_bg.wasm")) });

// `--rows N` shrinks the tensor (N x 4096): at 64 rows (1 MiB) it stays in L2, which
// measures the kernels' arithmetic apart from memory bandwidth.
const rowsArg = process.argv.indexOf("--rows");
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 4096;
const COLS = 4096, REPS = ROWS < 4096 ? 101 : 5;
// Seeded, roughly Gaussian weights (sum of three uniforms from xorshift32), scale 0.02.
const x = new Float32Array(ROWS * COLS);
let s = 0x9e3779b9 | 0;
const unit = () => {
  s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
  return (s >>> 8) / 16777216;
};
for (let i = 0; i < x.length; i++) x[i] = (unit() + unit() + unit() - 1.5) * 0.02;
const mb = (x.length * 4) / 1e6;

const raw = path.join(os.tmpdir(), "quantscope-bench-ggml-node.f32");
writeFileSync(raw, Buffer.from(x.buffer));
const python = path.join(root, ".venv/bin/python");
const peer = JSON.parse(
  execFileSync(python, [path.join(root, "scripts/bench/gguf_quantize.py"), raw, `${ROWS}`, `${COLS}`, "q8_0", "q4_0"], {
    encoding: "utf8",
  }),
);
rmSync(raw);

const bench = new GgmlBench(x);
console.log(`ggml quantize in wasm (${buildInfo().kernels}), ${ROWS}x${COLS} f32 (${mb.toFixed(0)} MB), best of ${REPS}`);
for (const ty of ["q8_0", "q4_0"]) {
  let best = Infinity, len = 0;
  // Warm-up (the small tensor needs more calls before V8's optimizing tier runs).
  for (let w = 0; w < (ROWS < 4096 ? 20 : 0); w++) bench.quantize(ty);
  for (let r = 0; r < REPS; r++) {
    const t = performance.now();
    len = bench.quantize(ty);
    best = Math.min(best, (performance.now() - t) / 1e3);
  }
  if (len !== peer[ty].bytes) throw new Error(`${ty}: ${len} bytes, gguf wrote ${peer[ty].bytes}`);
  const py = peer[ty].best_s;
  console.log(
    `${ty}: quantscope wasm ${(best * 1e3).toFixed(ROWS < 4096 ? 3 : 1)} ms (${(mb / 1e3 / best).toFixed(2)} GB/s of f32 in, ${len} bytes out); ` +
      `gguf ${(py * 1e3).toFixed(ROWS < 4096 ? 3 : 1)} ms (${(mb / 1e3 / py).toFixed(2)} GB/s); ${(py / best).toFixed(1)}x faster`,
  );
}
bench.free();

// The memory floor at this size, in the same process (scripts/bench/quantize.mjs has
// the same probes): reading the input once, and reading it while writing a quarter of
// its bytes (Q8_0 writes 34 per 128 read).
const probe = new BenchTensor(x, ROWS, COLS);
for (const kind of probe.probe ? ["read", "narrow"] : []) {
  let best = Infinity;
  for (let w = 0; w < (ROWS < 4096 ? 20 : 1); w++) probe.probe(kind);
  for (let r = 0; r < REPS; r++) {
    const t = performance.now();
    probe.probe(kind);
    best = Math.min(best, (performance.now() - t) / 1e3);
  }
  const what = kind === "read" ? "read only" : "read 4 B, write 1 B";
  console.log(`memory probe (${what}): ${(best * 1e3).toFixed(ROWS < 4096 ? 3 : 1)} ms (${(mb / 1e3 / best).toFixed(2)} GB/s of f32 in)`);
}
probe.free();
