// int8 / 4-bit / f32 GEMM and GEMV: quantscope's wasm kernels (SIMD128 build, and the
// relaxed-SIMD build where this Node can run it) against onnxruntime-web (wasm backend,
// 1 thread, SIMD) on the same shapes, in one run, single thread. Not a test: numbers
// go to docs/BENCHMARKS.md ("int8 kernels (issue 4)").
//
//   npm run bench                      (all scripts/bench/*.mjs)
//   node --experimental-wasm-relaxed-simd scripts/bench/gemm.mjs [--quick]
//
// ONNX models are written by scripts/bench/gen_onnx_models.py (the `onnx` package and
// onnxruntime's quantize_dynamic) into target/bench-models/ on first use.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const quick = process.argv.includes("--quick");
const cacheDir = path.join(root, "target/bench-models");

const GEMM = [
  [256, 1024, 1024],
  [128, 4096, 4096],
];
const GEMV = [
  [1, 4096, 4096],
  [1, 8192, 8192],
];
const SHAPES = quick
  ? [
      [64, 512, 512],
      [1, 1024, 1024],
    ]
  : [...GEMM, ...GEMV];

// ---- our wasm builds ---------------------------------------------------------------
async function loadBuild(dir) {
  const js = path.join(root, dir, "quantscope.js");
  const wasmPath = path.join(root, dir, "quantscope_bg.wasm");
  if (!existsSync(js)) return null;
  const bytes = readFileSync(wasmPath);
  if (!WebAssembly.validate(bytes)) return { dir, unsupported: true };
  const mod = await import(js);
  mod.initSync({ module: bytes });
  return { dir, mod, info: mod.buildInfo() };
}

// ---- timing ------------------------------------------------------------------------
function time(fn, { minMs = quick ? 150 : 600, minReps = 3, maxReps = 200 } = {}) {
  fn(); // warm-up (tiers up, touches memory)
  const ts = [];
  const start = performance.now();
  while (ts.length < maxReps && (ts.length < minReps || performance.now() - start < minMs)) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]; // median, ms
}
async function timeAsync(fn, opts = {}) {
  const { minMs = quick ? 150 : 600, minReps = 3, maxReps = 200 } = opts;
  await fn();
  const ts = [];
  const start = performance.now();
  while (ts.length < maxReps && (ts.length < minReps || performance.now() - start < minMs)) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

// Seeded uniform values (mulberry32), so every run sees the same data.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function floats(n, seed, scale = 1) {
  const r = rng(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r() * 2 - 1) * scale;
  return v;
}
function codes(n, seed, lo, hi) {
  const r = rng(seed);
  const v = new Int8Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + Math.floor(r() * (hi - lo + 1));
  return v;
}

// ---- onnxruntime-web ---------------------------------------------------------------
async function loadOrt() {
  const ort = await import("onnxruntime-web");
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.logLevel = "error";
  return ort;
}
function ensureModels() {
  const specs = SHAPES.map((s) => s.join(","));
  const missing = SHAPES.some(([m, k, n]) => !existsSync(path.join(cacheDir, `dynq_${m}x${k}x${n}.onnx`)));
  if (!missing) return;
  execFileSync("bash", ["scripts/setup-python.sh"], { cwd: root, stdio: "inherit" });
  execFileSync(".venv/bin/python", ["scripts/bench/gen_onnx_models.py", cacheDir, ...specs], {
    cwd: root,
    stdio: "inherit",
  });
}

// ---- the run -----------------------------------------------------------------------
function clockGHz() {
  try {
    const out = execFileSync("lscpu", { encoding: "utf8" });
    const max = /CPU max MHz:\s*([\d.]+)/.exec(out);
    if (max) return { ghz: Number(max[1]) / 1000, source: "lscpu CPU max MHz" };
  } catch {}
  const mhz = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
  return mhz
    ? { ghz: Number(mhz[1]) / 1000, source: "/proc/cpuinfo cpu MHz (nominal; KVM guest)" }
    : { ghz: 3, source: "assumed" };
}

const rows = [];
function record(group, name, [m, k, n], ms, weightBytes) {
  const gops = (2 * m * k * n) / (ms * 1e6);
  const gbs = weightBytes / (ms * 1e6);
  rows.push({ group, name, shape: `${m}x${k}x${n}`, ms, gops, gbs });
  console.log(
    `${name.padEnd(44)} ${`${m}x${k}x${n}`.padEnd(15)} ${ms.toFixed(3).padStart(10)} ms ` +
      `${gops.toFixed(2).padStart(8)} GOPS ${gbs.toFixed(2).padStart(7)} GB/s`,
  );
  return { ms, gops };
}

async function main() {
  const clock = clockGHz();
  console.log(`# ${os.cpus()[0].model}, ${os.cpus().length} cpus; Node ${process.version}`);
  console.log(`# clock for MACs/cycle: ${clock.ghz.toFixed(3)} GHz (${clock.source})`);
  const builds = [await loadBuild("www/pkg-bench"), await loadBuild("www/pkg-bench-relaxed")].filter(Boolean);
  for (const b of builds) {
    console.log(
      b.unsupported
        ? `# ${b.dir}: this engine cannot validate it (relaxed SIMD off? run node with --experimental-wasm-relaxed-simd)`
        : `# ${b.dir}: kernels ${b.info.kernels}`,
    );
  }
  if (builds.some((b) => !b.unsupported && b.info.relaxed_simd) && /^11\./.test(process.versions.v8)) {
    console.log(
      `# WARNING: V8 ${process.versions.v8} (Node 20) gave wrong relaxed_dot sums in our tests ` +
        "(tests/e2e/relaxed_kernels.test.mjs passes in Chromium): relaxed timings here are not valid",
    );
  }
  const ours = builds.filter((b) => !b.unsupported);
  if (!ours.length) throw new Error("build the benchmark wasm first: npm run build:wasm-bench");
  ensureModels();
  const ort = await loadOrt();
  const session = (f) =>
    ort.InferenceSession.create(readFileSync(path.join(cacheDir, f)), {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });

  const results = {};
  for (const shape of SHAPES) {
    const [m, k, n] = shape;
    const tag = shape.join("x");
    console.log(`\n## ${tag}`);
    const w = floats(n * k, 1 + n, 0.05);
    const x = floats(m * k, 2 + m);
    const bias = floats(n, 3);
    const r = (results[tag] = {});

    for (const { mod, info, dir } of ours) {
      const relaxed = info.relaxed_simd;
      const label = relaxed ? "relaxed" : "simd128";
      const f = new mod.LinearF32(w, n, k, bias);
      if (!relaxed)
        r.f32 = record(
          "f32",
          `ours f32 (${label})`,
          shape,
          time(() => f.forward(x, m)),
          4 * n * k,
        );
      f.free();
      const q = new mod.LinearI8(w, n, k, bias);
      const act = relaxed ? "u7" : "sym";
      r[`lin_${label}`] = record(
        "int8",
        `ours int8 linear, dyn. quant ${act} (${label})`,
        shape,
        time(() => q.forward(x, m, act)),
        n * k,
      );
      const a = relaxed ? codes(m * k, 5, 0, 127) : codes(m * k, 5, -128, 127);
      r[`mmi_${label}`] = record(
        "int8",
        `ours int8 GEMM int32 out, ${relaxed ? "u7" : "s8"} A (${label})`,
        shape,
        time(() => q.matmulInteger(a, m, relaxed ? "u7" : "asym")),
        n * k,
      );
      q.free();
      if (!relaxed && k % 32 === 0) {
        const q4 = mod.LinearQ4.int4Groups(w, n, k, 32, bias);
        r.q4 = record(
          "int4",
          `ours int4 group32 x int8 (${label})`,
          shape,
          time(() => q4.forward(x, m)),
          (n * k) / 2 + (n * k) / 8,
        );
        q4.free();
      }
      if (relaxed && k % 32 === 0) {
        const q4 = mod.LinearQ4.int4Groups(w, n, k, 32, bias);
        r.q4_relaxed = record(
          "int4",
          `ours int4 group32 x int8 (${label})`,
          shape,
          time(() => q4.forward(x, m)),
          (n * k) / 2 + (n * k) / 8,
        );
        q4.free();
      }
    }

    // onnxruntime-web on the same shape.
    const sMmi = await session(`matmulinteger_${tag}.onnx`);
    const aU8 = new ort.Tensor("uint8", new Uint8Array(codes(m * k, 5, -128, 127).buffer), [m, k]);
    r.ort_mmi = record(
      "ort",
      "onnxruntime-web MatMulInteger (u8 x s8)",
      shape,
      await timeAsync(() => sMmi.run({ A: aU8 })),
      n * k,
    );
    await sMmi.release();
    const sMm = await session(`matmul_${tag}.onnx`);
    const aF = new ort.Tensor("float32", x, [m, k]);
    r.ort_mm = record(
      "ort",
      "onnxruntime-web MatMul f32",
      shape,
      await timeAsync(() => sMm.run({ A: aF })),
      4 * n * k,
    );
    await sMm.release();
    const sDq = await session(`dynq_${tag}.onnx`);
    r.ort_dynq = record(
      "ort",
      "onnxruntime-web dynamic-quant linear",
      shape,
      await timeAsync(() => sDq.run({ A: aF })),
      n * k,
    );
    await sDq.release();
  }

  // ---- the target ratios again, interleaved ------------------------------------------
  // The figures above time each variant for 600 ms in turn; on a machine shared with
  // other builds the load can change between them. Here the SIMD128 variants the
  // targets name and their peers are called once per round, in an order that changes
  // every round, so load weighs on all alike (median and fastest of the rounds).
  const simd = ours.find((b) => !b.info.relaxed_simd);
  console.log("\n## interleaved rounds (SIMD128 build and its peers): median / fastest ms");
  const inter = {};
  for (const shape of SHAPES) {
    const [m, k, n] = shape;
    const tag = shape.join("x");
    const w = floats(n * k, 1 + n, 0.05);
    const x = floats(m * k, 2 + m);
    const bias = floats(n, 3);
    const f = new simd.mod.LinearF32(w, n, k, bias);
    const q = new simd.mod.LinearI8(w, n, k, bias);
    const a = codes(m * k, 5, -128, 127);
    const sMmi = await session(`matmulinteger_${tag}.onnx`);
    const sDq = await session(`dynq_${tag}.onnx`);
    const aU8 = new ort.Tensor("uint8", new Uint8Array(a.buffer), [m, k]);
    const aF = new ort.Tensor("float32", x, [m, k]);
    const runners = [
      ["f32", () => f.forward(x, m)],
      ["lin_simd128", () => q.forward(x, m, "sym")],
      ["mmi_simd128", () => q.matmulInteger(a, m, "asym")],
      ["ort_mmi", () => sMmi.run({ A: aU8 })],
      ["ort_dynq", () => sDq.run({ A: aF })],
    ];
    for (const [, fn] of runners) await fn();
    const ts = runners.map(() => []);
    const start = performance.now();
    const budget = (quick ? 150 : 600) * runners.length;
    for (let round = 0; round < 200 && (round < 7 || performance.now() - start < budget); round++) {
      for (let j = 0; j < runners.length; j++) {
        const rot = (j + round * 3) % runners.length;
        const i = round % 2 ? runners.length - 1 - rot : rot;
        const t0 = performance.now();
        await runners[i][1]();
        ts[i].push(performance.now() - t0);
      }
    }
    const r = (inter[tag] = {});
    runners.forEach(([key], i) => {
      const t = ts[i].sort((u, v) => u - v);
      r[key] = { median: t[t.length >> 1], min: t[0] };
      console.log(`${tag} ${key.padEnd(12)} ${r[key].median.toFixed(3).padStart(10)} / ${r[key].min.toFixed(3).padStart(10)} ms (${t.length} rounds)`);
    });
    f.free();
    q.free();
    await sMmi.release();
    await sDq.release();
    const both = (ours_, peer) =>
      `${(peer.median / ours_.median).toFixed(2)}x median, ${(peer.min / ours_.min).toFixed(2)}x fastest`;
    const mpc = (t) => ((m * k * n) / (t * 1e-3) / (clock.ghz * 1e9)).toFixed(2);
    if (m > 1) {
      console.log(`${tag}: int8 GEMM simd128 / ORT MatMulInteger = ${both(r.mmi_simd128, r.ort_mmi)} (target >= 1.5x)`);
      console.log(`${tag}: int8 GEMM simd128 = ${mpc(r.mmi_simd128.median)} / ${mpc(r.mmi_simd128.min)} MACs/cycle (target >= 8)`);
    } else {
      console.log(`${tag}: int8 GEMV simd128 (dyn quant) / ours f32 GEMV = ${both(r.lin_simd128, r.f32)} (target >= 3x)`);
      console.log(`${tag}: int8 GEMV simd128 / ORT dyn-quant linear = ${both(r.lin_simd128, r.ort_dynq)} (target >= 4x)`);
    }
  }

  // ---- ratios and targets ---------------------------------------------------------
  console.log("\n## ratios (same run)");
  const line = (s) => console.log(s);
  const macsPerCycle = (gops) => gops / 2 / clock.ghz;
  for (const [m, k, n] of SHAPES) {
    const tag = `${m}x${k}x${n}`;
    const r = results[tag];
    const f = (a, b) => (a && b ? (b.ms / a.ms).toFixed(2) + "x" : "n/a");
    if (m > 1) {
      line(`${tag}: int8 GEMM simd128 / ORT MatMulInteger = ${f(r.mmi_simd128, r.ort_mmi)} (target >= 1.5x)`);
      line(`${tag}: int8 GEMM relaxed / ORT MatMulInteger = ${f(r.mmi_relaxed, r.ort_mmi)} (target >= 1.5x)`);
      line(`${tag}: int8 linear simd128 / ORT dyn-quant linear = ${f(r.lin_simd128, r.ort_dynq)}`);
      for (const key of ["mmi_simd128", "mmi_relaxed", "ort_mmi"]) {
        if (r[key])
          line(`${tag}: ${key} = ${macsPerCycle(r[key].gops).toFixed(2)} MACs/cycle (target >= 8 for ours)`);
      }
      line(`${tag}: ours f32 / ORT MatMul f32 = ${f(r.f32, r.ort_mm)}`);
    } else {
      line(
        `${tag}: int8 GEMV simd128 (dyn quant) / ours f32 GEMV = ${f(r.lin_simd128, r.f32)} (target >= 3x)`,
      );
      line(`${tag}: int8 GEMV relaxed (dyn quant u7) / ours f32 GEMV = ${f(r.lin_relaxed, r.f32)}`);
      line(
        `${tag}: int8 GEMV simd128 / ORT dyn-quant linear = ${f(r.lin_simd128, r.ort_dynq)} (target >= 4x)`,
      );
      line(
        `${tag}: int8 GEMV relaxed / ORT dyn-quant linear = ${f(r.lin_relaxed, r.ort_dynq)} (target >= 4x)`,
      );
      line(`${tag}: ours f32 GEMV / ORT MatMul f32 = ${f(r.f32, r.ort_mm)}`);
      line(`${tag}: int4 GEMV simd128 / int8 GEMV simd128 = ${f(r.q4, r.lin_simd128)}`);
    }
  }
}

await main();
