// `npm run bench`'s training figure (issue 11): one epoch of QAT on digits (the MLP,
// W4A8 per tensor, batch 32, Adam 5e-4: the training pass over 1,438 samples and the
// test split's accuracy) in three places in the same run, interleaved round by round:
//   - natively: `quantscope train --json`'s per-epoch wall times (release build);
//   - in headless Chromium: the SIMD128 wasm build's TrainSession.step(), one thread;
//   - PyTorch 2.5 on the CPU, torch.set_num_threads(1) (scripts/bench/train_torch.py).
// Not a test: numbers go to docs/BENCHMARKS.md ("Training lab (issue 11)").
//
// Each round is a fresh page, so Chromium starts each in V8's baseline (Liftoff) code and
// moves the hot functions to optimized (TurboFan) code as they get hot, in the
// background; wasm has no on-stack replacement, so a function changes over at its next
// call. The first epochs of a run therefore cost several times the later ones, and the
// figures are given apart: "cold", the median of each round's first COLD epochs, and
// "warm", the median of its last COLD epochs (the rate a longer run settles at). The
// page's training worker warms up when the lab comes into view; the third row is a run
// after that warm-up.
//
//   node scripts/bench/train.mjs [--rounds 3] [--epochs 12]
//   (needs npm run build:wasm, cargo build --release, www/public/digits.npz, .venv-torch)
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inChromium } from "./lib/browser.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const arg = (name, d) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const ROUNDS = arg("--rounds", 3);
const EPOCHS = arg("--epochs", 12);
const COLD = Math.min(5, Math.floor(EPOCHS / 2));
const digits = path.join(root, "www/public/digits.npz");
const cli = path.join(root, "target/release/quantscope");
const torchPy = path.join(root, ".venv-torch/bin/python");
for (const [f, how] of [
  [digits, "python3 scripts/digits.py"],
  [cli, "cargo build --release"],
  [path.join(root, "www/pkg/quantscope_bg.wasm"), "npm run build:wasm"],
]) {
  if (!existsSync(f)) throw new Error(`${f} is missing: ${how}`);
}
const haveTorch = existsSync(torchPy);
if (!haveTorch) console.log("# NOTE: .venv-torch is missing (scripts/gen_linear_fixtures.sh makes it): no PyTorch figure");

const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];

function native() {
  const out = execFileSync(
    cli,
    ["train", "--data", digits, "--method", "qat", "--wbits", "4", "--abits", "8", "--float-epochs", "1",
      "--epochs", String(EPOCHS), "--json"],
    { encoding: "utf8" },
  );
  // The first point is the float epoch.
  return JSON.parse(out).epoch_seconds.slice(1);
}

function torch() {
  const out = execFileSync(torchPy, [path.join(root, "scripts/bench/train_torch.py"), digits, "--epochs", String(EPOCHS)], {
    encoding: "utf8",
  });
  return JSON.parse(out).epoch_seconds;
}

/**
 * In the page: one float epoch, then EPOCHS timed QAT epochs. With `warmMs`, first what
 * the training worker does when the lab comes into view (TrainApi.warmUp in
 * www/src/worker/train-api.ts): a throwaway session stepped for that long.
 */
async function browserEpochs({ b64, epochs, warmMs }) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const core = await import("/pkg/quantscope.js");
  await core.default();
  const cfg = {
    model: "mlp", method: "qat", wbits: 4, abits: 8, per_channel: false, ptq_range: "minmax",
    kd_t: 4, kd_alpha: 0.7, epochs, lr: 5e-4, float_epochs: 1, float_lr: 1e-3, batch: 32, seed: 0,
  };
  if (warmMs) {
    const w = new core.TrainSession(bytes, "digits.npz", { ...cfg, float_epochs: 1, epochs: 1000 }, null);
    const t = performance.now();
    while (performance.now() - t < warmMs && w.step());
    w.free();
  }
  const s = new core.TrainSession(bytes, "digits.npz", cfg, null);
  s.step();
  const times = [];
  for (let i = 0; i < epochs; i++) {
    const t0 = performance.now();
    s.step();
    times.push((performance.now() - t0) / 1000);
  }
  s.free();
  return times;
}

const b64 = readFileSync(digits).toString("base64");
const runners = {
  native: () => native(),
  chromium: () => inChromium(browserEpochs, { b64, epochs: EPOCHS }, () => {}),
  "chromium, after the 1.5 s warm-up": () => inChromium(browserEpochs, { b64, epochs: EPOCHS, warmMs: 1500 }, () => {}),
};
if (haveTorch) runners.torch = () => torch();
const cold = Object.fromEntries(Object.keys(runners).map((k) => [k, []]));
const warm = Object.fromEntries(Object.keys(runners).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [k, run] of Object.entries(runners)) {
    const times = await run();
    cold[k].push(...times.slice(0, COLD));
    warm[k].push(...times.slice(-COLD));
    console.log(`round ${r + 1}/${ROUNDS} ${k}: ${times.map((t) => t.toFixed(3)).join(" ")}`);
  }
}
console.log(`# ${os.cpus()[0]?.model ?? "cpu"}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`);
console.log(
  `# one QAT epoch (MLP W4A8, 1,438 samples + test accuracy), ${ROUNDS} rounds x ${EPOCHS} epochs; ` +
    `cold: each round's first ${COLD}, warm: its last ${COLD}`,
);
console.log("| where | cold median | warm median | warm fastest |");
console.log("|---|---:|---:|---:|");
for (const k of Object.keys(runners)) {
  console.log(
    `| ${k} | ${median(cold[k]).toFixed(3)} s | ${median(warm[k]).toFixed(3)} s | ${Math.min(...warm[k]).toFixed(3)} s |`,
  );
}
