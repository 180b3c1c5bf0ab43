// The int8 tile sweep (issue 4): times the integer kernel (`LinearI8.matmulIntegerTiled`,
// int32 out) of both wasm builds for every tile shape they hold, on the shapes of
// `npm run bench`, in headless Chromium (the relaxed build's timings are only valid
// there; see lib/browser.mjs). `--node` runs the SIMD128 build's sweep in this Node
// instead. Candidates are interleaved (a different order every round) so that load
// from other processes weighs on all alike; each result is checked equal to the first
// candidate's. The chosen shapes are the GEMM_TILES / GEMV_TILES constants of
// src/kernels/gemm/simd128.rs and relaxed.rs; figures go to docs/BENCHMARKS.md.
//
// Ranked by the fastest round (the least disturbed by the other processes sharing the
// machine: their load only ever adds time); the median is printed beside it.
//
//   node scripts/bench/gemm_tiles.mjs [--node] [--quick] [--rounds N] [--only gemm|gemv]
//                                     [--blocks 0,32]
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inChromium } from "./lib/browser.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const inNode = argv.includes("--node");
const rounds = Number(argv[argv.indexOf("--rounds") + 1]) || (quick ? 2 : 5);

// Must match TILE_SHAPES in src/kernels/gemm/simd128.rs and relaxed.rs.
const SHAPES_SIMD128 = [
  [1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [6, 1], [1, 2], [2, 2], [3, 2], [4, 2],
  [1, 3], [2, 3], [1, 4], [2, 4], [1, 6], [2, 6],
];
const SHAPES_RELAXED = [
  [1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [6, 1], [8, 1], [1, 2], [2, 2], [3, 2], [4, 2],
  [5, 2], [6, 2], [1, 3], [2, 3], [4, 3], [1, 4], [2, 4], [3, 4], [1, 8], [2, 8],
];
const only = argv.includes("--only") ? argv[argv.indexOf("--only") + 1] : null;
const PROBLEMS = (
  quick ? [[64, 512, 512], [1, 1024, 1024]] : [[256, 1024, 1024], [128, 4096, 4096], [1, 4096, 4096], [1, 8192, 8192]]
).filter(([m]) => !only || (only === "gemv") === (m === 1));
const PANEL_BLOCKS = argv.includes("--blocks") ? argv[argv.indexOf("--blocks") + 1].split(",").map(Number) : [0, 8, 32];

function candidates(m, tiles) {
  // One row: only the panel count matters (leftover-row tiles are never used).
  if (m === 1) return tiles.filter(([mr]) => mr === 1).map(([mr, np]) => [mr, np, 0]);
  return tiles.flatMap(([mr, np]) => PANEL_BLOCKS.map((pb) => [mr, np, pb]));
}

/** Runs in the page (or here with --node): everything it needs comes in `arg`. */
async function sweep(arg) {
  const { builds, problems, rounds, base } = arg;
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
  const codes = (n, seed, lo, hi) => {
    const r = rng(seed);
    const v = new Int8Array(n);
    for (let i = 0; i < n; i++) v[i] = lo + Math.floor(r() * (hi - lo + 1));
    return v;
  };
  const results = [];
  for (const b of builds) {
    const mod = await import(`${base}/${b.dir}/quantscope.js`);
    if (b.bytes) mod.initSync({ module: b.bytes });
    else await mod.default(`${base}/${b.dir}/quantscope_bg.wasm`);
    if (mod.buildInfo().relaxed_simd !== b.relaxedBuild) throw new Error(`${b.dir}: unexpected build ${mod.buildInfo().kernels}`);
    for (const { shape, cands } of problems[b.label]) {
      const [m, k, n] = shape;
      const q = mod.LinearI8.fromCodes(codes(n * k, 1 + n, -128, 127), n, k);
      const a = b.relaxed ? codes(m * k, 5, 0, 127) : codes(m * k, 5, -128, 127);
      const act = b.relaxed ? "u7" : "asym";
      const run = ([mr, np, pb]) => q.matmulIntegerTiled(a, m, act, mr, np, pb, b.relaxed);
      const ref = run(cands[0]);
      for (const c of cands) {
        const got = run(c); // warm-up, and the check
        if (got.length !== ref.length || got.some((v, i) => v !== ref[i])) throw new Error(`${b.label} ${c}: wrong result`);
      }
      const times = cands.map(() => []);
      for (let r = 0; r < rounds; r++) {
        for (let j = 0; j < cands.length; j++) {
          // A different order every round: rotated, and reversed every other round.
          const rot = (j + r * 5) % cands.length;
          const i = r % 2 ? cands.length - 1 - rot : rot;
          const t0 = performance.now();
          run(cands[i]);
          times[i].push(performance.now() - t0);
        }
      }
      q.free();
      const rows = cands.map((c, i) => {
        const t = times[i].slice().sort((x, y) => x - y);
        return { tile: c, median: t[t.length >> 1], min: t[0] };
      });
      rows.sort((x, y) => x.min - y.min);
      results.push({ build: b.label, shape, rows });
      console.log(`${b.label} ${shape.join("x")}: best ${rows[0].tile} ${rows[0].min.toFixed(2)} ms`);
    }
  }
  return results;
}

const ghz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? 3000) / 1000;
const problems = (tiles) => PROBLEMS.map((shape) => ({ shape, cands: candidates(shape[0], tiles) }));
console.log(`# int8 tile sweep, ${os.cpus()[0].model}; load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}; ${rounds} rounds, ranked by the fastest`);
let results;
if (inNode) {
  const dir = "www/pkg-bench";
  const arg = {
    base: "file://" + root,
    rounds,
    builds: [{ dir, label: "simd128 (Node)", relaxed: false, relaxedBuild: false, bytes: readFileSync(path.join(root, dir, "quantscope_bg.wasm")) }],
    problems: { "simd128 (Node)": problems(SHAPES_SIMD128) },
  };
  results = await sweep(arg);
} else {
  results = await inChromium(sweep, {
    base: "",
    rounds,
    builds: [
      { dir: "pkg", label: "simd128", relaxed: false, relaxedBuild: false },
      { dir: "pkg-relaxed", label: "relaxed", relaxed: true, relaxedBuild: true },
    ],
    problems: { simd128: problems(SHAPES_SIMD128), relaxed: problems(SHAPES_RELAXED) },
  });
}
for (const { build, shape, rows } of results) {
  const [m, k, n] = shape;
  console.log(`\n## ${build} ${shape.join("x")} (MACs/cycle at ${ghz.toFixed(2)} GHz)`);
  console.log("tile (rows x panels, panels/block)      min ms   median ms   MACs/cycle (min)");
  for (const r of rows) {
    const [mr, np, pb] = r.tile;
    const macs = (m * k * n) / (r.min * 1e-3) / (ghz * 1e9);
    console.log(`${`${mr} x ${np}, ${pb || "all"}`.padEnd(36)} ${r.min.toFixed(3).padStart(9)} ${r.median.toFixed(3).padStart(11)} ${macs.toFixed(2).padStart(10)}`);
  }
}
console.log(`# load after: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
