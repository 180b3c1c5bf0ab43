// Quantize throughput of the wasm build (SIMD128) under Node, on a 4096 x 4096 f32
// tensor, against numpy's per-channel int8 in the same run.
//   npm run bench:quantize [-- extra,schemes]      (needs www/pkg-bench: npm run build:wasm-bench)
// The tensor crosses into wasm memory once (BenchTensor); each timed call quantizes only.
// Median of RUNS runs after one warm-up; GB/s of f32 input (1e9 bytes).
// Other scheme families join by passing their scheme strings (e.g. `-- q8_0,q4_0`) and,
// for their peer, a PEERS entry in scripts/bench/numpy_quant.py run with --peer NAME.
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { initSync, BenchTensor, buildInfo } = await import(join(root, "www/pkg-bench/quantscope.js"));
initSync({ module: readFileSync(join(root, "www/pkg-bench/quantscope_bg.wasm")) });

// `--rows N` shrinks the tensor (N x 4096): at 64 rows (1 MiB) it stays in L2, which
// measures the kernels' arithmetic apart from memory bandwidth.
const rowsArg = process.argv.indexOf("--rows");
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 4096;
const COLS = 4096;
const RUNS = ROWS < 4096 ? 101 : 7;
const SCHEMES = [
  "int8-sym-ch0",
  "int8-asym-ch0",
  "uint8-asym-ch0",
  "int8-sym",
  "int8-sym-ch1",
  "int4-sym-group128",
  "int4-asym-ch0",
  "int16-sym-ch0",
  "torch-int8-sym-ch0",
  "tflite-int8-ch0",
  "tfjs-uint8",
];
// Flags (`--rows N`, and `--quick` that `npm run bench -- --quick` passes to every
// bench) are not scheme strings.
const extra = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith("--") && all[i - 1] !== "--rows")
  .flatMap((a) => a.split(","))
  .filter(Boolean);
const PEERS = [["numpy-int8-sym-ch0"]];

// xorshift-style deterministic data, roughly Gaussian (sum of three uniforms).
const data = new Float32Array(ROWS * COLS);
let s = 0x2545f491 >>> 0;
const u = () => {
  s ^= s << 13;
  s >>>= 0;
  s ^= s >>> 17;
  s ^= s << 5;
  s >>>= 0;
  return s / 4294967296;
};
for (let i = 0; i < data.length; i++) data[i] = (u() + u() + u() - 1.5) * 0.03;

const t = new BenchTensor(data, ROWS, COLS);
const bytes = data.length * 4;
const info = buildInfo();
console.log(
  `quantize ${ROWS}x${COLS} f32 (${bytes >> 20} MiB) in wasm (${info.kernels}), Node ${process.version}, ${cpus()[0].model}; median of ${RUNS}`,
);
console.log(`${"scheme".padEnd(28)} ${"ms".padStart(10)} ${"GB/s".padStart(8)}`);
const rows = [];
for (const scheme of [...SCHEMES, ...extra]) {
  try {
    // Warm-up; the small tensor needs more calls before V8's optimizing tier runs.
    for (let w = 0; w < (ROWS < 4096 ? 20 : 1); w++) t.quantize(scheme);
  } catch (e) {
    console.log(`${scheme.padEnd(28)} skipped: ${e.message}`);
    continue;
  }
  const times = [];
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    t.quantize(scheme);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const ms = times[RUNS >> 1];
  rows.push({ scheme, ms, gbps: bytes / (ms / 1e3) / 1e9 });
  console.log(`${scheme.padEnd(28)} ${ms.toFixed(2).padStart(10)} ${(bytes / (ms / 1e3) / 1e9).toFixed(2).padStart(8)}`);
}
// The memory floor at this size, in the same process: `read` reads every value once
// (nothing written), `narrow` reads 4 bytes and writes 1 per value (an int8 quantize's
// traffic, almost no arithmetic). A quantize at the `narrow` time is bound by memory.
for (const kind of t.probe ? ["read", "narrow"] : []) {
  for (let w = 0; w < (ROWS < 4096 ? 20 : 1); w++) t.probe(kind);
  const times = [];
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    t.probe(kind);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const ms = times[RUNS >> 1];
  const name = kind === "read" ? "probe: read only" : "probe: read 4 B, write 1 B";
  console.log(`${name.padEnd(28)} ${ms.toFixed(2).padStart(10)} ${(bytes / (ms / 1e3) / 1e9).toFixed(2).padStart(8)}`);
}
t.free();

for (const [peer] of PEERS) {
  const py = spawnSync(
    join(root, ".venv/bin/python"),
    [join(root, "scripts/bench/numpy_quant.py"), String(ROWS), String(COLS), String(RUNS), "--peer", peer],
    { encoding: "utf8" },
  );
  if (py.status !== 0) {
    console.log(`${peer.padEnd(28)} skipped: ${py.error?.message ?? py.stderr.trim().split("\n").pop()} (bash scripts/setup-python.sh)`);
    continue;
  }
  const r = JSON.parse(py.stdout);
  console.log(
    `${peer.padEnd(28)} ${(r.median_s * 1e3).toFixed(2).padStart(10)} ${r.gbps.toFixed(2).padStart(8)}   (numpy ${r.numpy})`,
  );
  const ours = rows.find((x) => x.scheme === "int8-sym-ch0");
  if (ours && peer === "numpy-int8-sym-ch0") {
    console.log(`int8-sym-ch0: wasm is ${(r.median_s * 1e3 / ours.ms).toFixed(1)}x numpy; target 8 GB/s ${ours.gbps >= 8 ? "met" : "MISSED"}`);
  }
}
