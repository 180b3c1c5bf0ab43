// The relaxed-SIMD build (the benchmark variant, www/pkg-bench-relaxed, which exports the
// kernel entry points; `npm run build:wasm-bench`) in Chromium, where relaxed SIMD is on by
// default: its int8 GEMM (u7 activations) and Q4 GEMV equal the SIMD128 build's exactly,
// and the int32 product equals a plain JavaScript sum. These run here rather than in
// Node because Node 20's V8 (11.3) has relaxed SIMD only behind
// --experimental-wasm-relaxed-simd, and with it i32x4.relaxed_dot_i8x16_i7x16_add_s
// gave wrong sums in our kernels (Chromium 156 gives the exact ones).
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, launch } from "./harness.mjs";

const WWW = join(ROOT, "www");

test("relaxed build equals the SIMD128 build and a plain sum, in Chromium", async () => {
  for (const d of ["pkg-bench", "pkg-bench-relaxed"]) {
    assert.ok(existsSync(join(WWW, d, "quantscope_bg.wasm")), `www/${d} missing: npm run build:wasm-bench`);
  }
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/") return res.writeHead(200, { "content-type": "text/html" }).end("<html></html>");
    if (!/^\/pkg-bench(-relaxed)?\/quantscope(_bg\.wasm|\.js)$/.test(path)) return res.writeHead(404).end();
    const type = path.endsWith(".wasm") ? "application/wasm" : "text/javascript";
    res.writeHead(200, { "content-type": type }).end(readFileSync(join(WWW, path)));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const browser = await launch();
  try {
    const { page } = browser;
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const out = await page.evaluate(async () => {
      const load = async (d) => {
        const m = await import(`/${d}/quantscope.js`);
        await m.default(`/${d}/quantscope_bg.wasm`);
        return m;
      };
      const s = await load("pkg-bench");
      const r = await load("pkg-bench-relaxed");
      const bad = [];
      const dims = [0, 1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 64];
      let seed = 7;
      const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;
      for (const m of dims)
        for (const k of dims)
          for (const n of [1, 3, 4, 5, 8, 9, 17]) {
            const wc = new Int8Array(n * k).map(() => Math.floor(rand() * 256) - 128);
            const a = new Int8Array(m * k).map(() => Math.floor(rand() * 128));
            const ref = new Int32Array(m * n);
            for (let i = 0; i < m; i++)
              for (let j = 0; j < n; j++) {
                let t = 0;
                for (let q = 0; q < k; q++) t += a[i * k + q] * wc[j * k + q];
                ref[i * n + j] = t;
              }
            const x = new Float32Array(m * k).map(() => rand() * 2 - 1);
            const w = new Float32Array(n * k).map(() => rand() * 2 - 1);
            const res = [s, r].map((mod) => {
              const qc = mod.LinearI8.fromCodes(wc, n, k);
              const qi = qc.matmulInteger(a, m, "u7");
              qc.free();
              const qw = new mod.LinearI8(w, n, k, null);
              const y = qw.forward(x, m, "u7");
              qw.free();
              return { qi, y };
            });
            const same = (u, v) => u.length === v.length && u.every((e, i) => Object.is(e, v[i]));
            if (!same(res[1].qi, ref) || !same(res[0].qi, ref)) bad.push(`int32 ${m}x${k}x${n}`);
            if (!same(res[0].y, res[1].y)) bad.push(`f32 ${m}x${k}x${n}`);
          }
      for (const n of [1, 4, 5, 17])
        for (const k of [0, 32, 64, 256]) {
          const w = new Float32Array(n * k).map(() => rand() * 2 - 1);
          const x = new Float32Array(2 * k).map(() => rand() * 2 - 1);
          const ys = [s, r].map((mod) => {
            const q = mod.LinearQ4.int4Groups(w, n, k, 32, null);
            const y = q.forward(x, 2);
            q.free();
            return y;
          });
          if (!ys[0].every((e, i) => Object.is(e, ys[1][i]))) bad.push(`q4 ${n}x${k}`);
        }
      // Every tile shape of the relaxed kernel (the sweep's candidates,
      // TILE_SHAPES in src/kernels/gemm/relaxed.rs), with and without panel blocks,
      // equals the plain sum; so does the SIMD128 kernel at its shapes.
      const RELAXED_TILES = [
        [1, 1],
        [2, 1],
        [3, 1],
        [4, 1],
        [5, 1],
        [6, 1],
        [8, 1],
        [1, 2],
        [2, 2],
        [3, 2],
        [4, 2],
        [5, 2],
        [6, 2],
        [1, 3],
        [2, 3],
        [4, 3],
        [1, 4],
        [2, 4],
        [3, 4],
        [1, 8],
        [2, 8],
      ];
      const SIMD128_TILES = [
        [1, 1],
        [2, 1],
        [3, 1],
        [4, 1],
        [5, 1],
        [6, 1],
        [1, 2],
        [2, 2],
        [3, 2],
        [4, 2],
        [1, 3],
        [2, 3],
        [1, 4],
        [2, 4],
        [1, 6],
        [2, 6],
      ];
      for (const [m, k, n] of [
        [1, 33, 37],
        [7, 17, 29],
        [13, 64, 45],
        [16, 8, 33],
      ]) {
        const wc = new Int8Array(n * k).map(() => Math.floor(rand() * 256) - 128);
        const a = new Int8Array(m * k).map(() => Math.floor(rand() * 128));
        const ref = new Int32Array(m * n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let t = 0;
            for (let q = 0; q < k; q++) t += a[i * k + q] * wc[j * k + q];
            ref[i * n + j] = t;
          }
        for (const [mod, tiles, relaxed] of [
          [r, RELAXED_TILES, true],
          [r, SIMD128_TILES, false],
        ]) {
          const qc = mod.LinearI8.fromCodes(wc, n, k);
          for (const [mr, np] of tiles)
            for (const pb of [0, 1, 3]) {
              const got = qc.matmulIntegerTiled(a, m, relaxed ? "u7" : "asym", mr, np, pb, relaxed);
              if (!got.every((e, i) => e === ref[i]))
                bad.push(`tiles ${relaxed ? "relaxed" : "simd128"} ${mr}x${np}/${pb} ${m}x${k}x${n}`);
            }
          qc.free();
        }
      }
      return { info: r.buildInfo(), bad };
    });
    assert.equal(out.info.relaxed_simd, true);
    assert.deepEqual(out.bad, []);
  } finally {
    await browser.close();
    server.close();
  }
});
