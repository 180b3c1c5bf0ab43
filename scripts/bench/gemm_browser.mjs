// `npm run bench`'s int8 / f32 comparison (scripts/bench/gemm.mjs) in headless Chromium:
// both our wasm builds, SIMD128 and relaxed SIMD, against onnxruntime-web (wasm
// backend, 1 thread, SIMD) in the same page, single thread. This is where the relaxed
// build's figures come from: Node 20's V8 11.3 gave wrong relaxed_dot sums, Chromium
// returns exact ones (tests/e2e/relaxed_kernels.test.mjs). Not a test: numbers go to
// docs/BENCHMARKS.md ("int8 kernels (issue 4)"). Calls are interleaved round by round
// across all variants of a shape (ours and onnxruntime-web's), median and fastest.
//
//   node scripts/bench/gemm_browser.mjs [--quick]     (needs npm run build:wasm-bench)
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inChromium } from "./lib/browser.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const quick = process.argv.includes("--quick");
const cacheDir = path.join(root, "target/bench-models");
const SHAPES = quick
  ? [[64, 512, 512], [1, 1024, 1024]]
  : [[256, 1024, 1024], [128, 4096, 4096], [1, 4096, 4096], [1, 8192, 8192]];

if (SHAPES.some(([m, k, n]) => !existsSync(path.join(cacheDir, `dynq_${m}x${k}x${n}.onnx`)))) {
  execFileSync("bash", ["scripts/setup-python.sh"], { cwd: root, stdio: "inherit" });
  execFileSync(".venv/bin/python", ["scripts/bench/gen_onnx_models.py", cacheDir, ...SHAPES.map((s) => s.join(","))], {
    cwd: root,
    stdio: "inherit",
  });
}

/** Runs in the page. Same data, seeds and timing rule as scripts/bench/gemm.mjs. */
async function bench({ shapes, minMs }) {
  const rng = (seed) => {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  };
  const floats = (n, seed, scale = 1) => {
    const r = rng(seed);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = (r() * 2 - 1) * scale;
    return v;
  };
  const codes = (n, seed, lo, hi) => {
    const r = rng(seed);
    const v = new Int8Array(n);
    for (let i = 0; i < n; i++) v[i] = lo + Math.floor(r() * (hi - lo + 1));
    return v;
  };
  // Interleaved timing: every runner of a shape is called once per round, in an order
  // that changes every round, so that load from other processes on this shared machine
  // weighs on ours and onnxruntime-web's alike; median and fastest of the rounds.
  const interleaved = async (runners) => {
    for (const r of runners) await r.fn(); // warm-up
    const ts = runners.map(() => []);
    const start = performance.now();
    for (let round = 0; round < 200 && (round < 7 || performance.now() - start < minMs * runners.length); round++) {
      for (let j = 0; j < runners.length; j++) {
        const rot = (j + round * 3) % runners.length;
        const i = round % 2 ? runners.length - 1 - rot : rot;
        const t0 = performance.now();
        await runners[i].fn();
        ts[i].push(performance.now() - t0);
      }
    }
    const out = {};
    runners.forEach((r, i) => {
      const t = ts[i].sort((a, b) => a - b);
      out[r.key] = { median: t[t.length >> 1], min: t[0], n: t.length };
    });
    return out;
  };
  const load = async (d) => {
    const m = await import(`/${d}/quantscope.js`);
    await m.default(`/${d}/quantscope_bg.wasm`);
    return m;
  };
  const builds = [
    { label: "simd128", mod: await load("pkg") },
    { label: "relaxed", mod: await load("pkg-relaxed") },
  ];
  if (!builds[1].mod.buildInfo().relaxed_simd) throw new Error("pkg-relaxed is not the relaxed build");
  const ort = await import("/ort/ort.wasm.min.mjs");
  ort.env.wasm.wasmPaths = "/ort/";
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.logLevel = "error";
  const session = async (f) =>
    ort.InferenceSession.create(new Uint8Array(await (await fetch(`/models/${f}`)).arrayBuffer()), {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
  const out = {};
  for (const [m, k, n] of shapes) {
    const tag = `${m}x${k}x${n}`;
    const w = floats(n * k, 1 + n, 0.05);
    const x = floats(m * k, 2 + m);
    const bias = floats(n, 3);
    const runners = [];
    const held = [];
    for (const { label, mod } of builds) {
      const relaxed = label === "relaxed";
      if (!relaxed) {
        const f = new mod.LinearF32(w, n, k, bias);
        held.push(f);
        runners.push({ key: "f32", fn: () => f.forward(x, m) });
      }
      const q = new mod.LinearI8(w, n, k, bias);
      held.push(q);
      const act = relaxed ? "u7" : "sym";
      runners.push({ key: `lin_${label}`, fn: () => q.forward(x, m, act) });
      const a = relaxed ? codes(m * k, 5, 0, 127) : codes(m * k, 5, -128, 127);
      runners.push({ key: `mmi_${label}`, fn: () => q.matmulInteger(a, m, relaxed ? "u7" : "asym") });
    }
    const sessions = [];
    const aU8 = new ort.Tensor("uint8", new Uint8Array(codes(m * k, 5, -128, 127).buffer), [m, k]);
    const aF = new ort.Tensor("float32", x, [m, k]);
    for (const [key, file, feeds] of [
      ["ort_mmi", `matmulinteger_${tag}.onnx`, { A: aU8 }],
      ["ort_mm", `matmul_${tag}.onnx`, { A: aF }],
      ["ort_dynq", `dynq_${tag}.onnx`, { A: aF }],
    ]) {
      const sess = await session(file);
      sessions.push(sess);
      runners.push({ key, fn: () => sess.run(feeds) });
    }
    out[tag] = await interleaved(runners);
    for (const h of held) h.free();
    for (const sess of sessions) await sess.release();
    console.log(`${tag} done`);
  }
  return out;
}

const ghz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? 3000) / 1000;
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`# ${os.cpus()[0].model}, ${os.cpus().length} cpus; load ${load()}; MACs/cycle at ${ghz.toFixed(2)} GHz (/proc/cpuinfo)`);
const res = await inChromium(bench, { shapes: SHAPES, minMs: quick ? 150 : 600 });
const NAMES = {
  f32: "ours f32 (simd128)",
  lin_simd128: "ours int8 linear, dyn. quant sym (simd128)",
  mmi_simd128: "ours int8 GEMM int32 out, s8 A (simd128)",
  lin_relaxed: "ours int8 linear, dyn. quant u7 (relaxed)",
  mmi_relaxed: "ours int8 GEMM int32 out, u7 A (relaxed)",
  ort_mmi: "onnxruntime-web MatMulInteger (u8 x s8)",
  ort_mm: "onnxruntime-web MatMul f32",
  ort_dynq: "onnxruntime-web dynamic-quant linear",
};
for (const [tag, r] of Object.entries(res)) {
  const [m, k, n] = tag.split("x").map(Number);
  console.log(`\n## ${tag} (Chromium; interleaved rounds: median, fastest)`);
  for (const [key, t] of Object.entries(r)) {
    const gops = (2 * m * k * n) / (t.median * 1e6);
    const mpc = (ms) => ((m * k * n) / (ms * 1e-3) / (ghz * 1e9)).toFixed(2);
    console.log(
      `${NAMES[key].padEnd(44)} ${t.median.toFixed(3).padStart(9)} ms ${t.min.toFixed(3).padStart(9)} ms ` +
        `${gops.toFixed(2).padStart(7)} GOPS ${mpc(t.median).padStart(6)} / ${mpc(t.min).padStart(6)} MACs/cycle (${t.n} rounds)`,
    );
  }
  const x = (a, b, what) => `${(b[what] / a[what]).toFixed(2)}x`;
  const both = (a, b) => `${x(a, b, "median")} (median), ${x(a, b, "min")} (fastest)`;
  if (m > 1) {
    console.log(`${tag}: int8 GEMM simd128 / ORT MatMulInteger = ${both(r.mmi_simd128, r.ort_mmi)} (target >= 1.5x)`);
    console.log(`${tag}: int8 GEMM relaxed / ORT MatMulInteger = ${both(r.mmi_relaxed, r.ort_mmi)} (target >= 1.5x)`);
  } else {
    console.log(`${tag}: int8 GEMV simd128 (dyn quant) / ours f32 GEMV = ${both(r.lin_simd128, r.f32)} (target >= 3x)`);
    console.log(`${tag}: int8 GEMV relaxed (dyn quant u7) / ours f32 GEMV = ${both(r.lin_relaxed, r.f32)} (target >= 3x)`);
    console.log(`${tag}: int8 GEMV simd128 / ORT dyn-quant linear = ${both(r.lin_simd128, r.ort_dynq)} (target >= 4x)`);
  }
}
console.log(`# load after: ${load()}`);
