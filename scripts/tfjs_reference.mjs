// Prints what a TF.js model holds as TensorFlow.js itself decodes it, for the Rust tests
// (tests/formats_tfjs.rs, tests/real_models.rs) and the interop check of quantscope's
// TF.js writer: {"tensors": {name: {"shape", "dtype", "bits": [float32 bits] | null}}}.
//
//   node scripts/tfjs_reference.mjs MODEL.json [--values]
//
// MODEL.json is a model.json (its weightsManifest) or a bare weights manifest (an array
// of groups); the shards are read from its folder, concatenated per group, and decoded
// by @tensorflow/tfjs-core's io.decodeWeights (uint8/uint16 dequantized with the stored
// scale and min, float16 widened) on the pure-JS CPU backend.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

// tfjs-core greets Node users on stdout; keep stdout for the JSON.
console.log = (...a) => process.stderr.write(a.join(" ") + "\n");
const tf = await import("@tensorflow/tfjs-core");
await import("@tensorflow/tfjs-backend-cpu");

const [path, ...flags] = process.argv.slice(2);
const values = flags.includes("--values");
const json = JSON.parse(readFileSync(path, "utf8"));
const groups = Array.isArray(json) ? json : json.weightsManifest;
await tf.setBackend("cpu");
const out = {};
for (const group of groups) {
  const shards = group.paths.map((p) => readFileSync(join(dirname(path), p)));
  const all = Buffer.concat(shards);
  const buffer = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const decoded = tf.io.decodeWeights(buffer, group.weights);
  for (const w of group.weights) {
    const t = decoded[w.name];
    const entry = { shape: t.shape, dtype: t.dtype, bits: null };
    if (values && t.dtype !== "string") {
      const f = Float32Array.from(t.dataSync());
      entry.bits = Array.from(new Uint32Array(f.buffer));
    }
    out[w.name] = entry;
  }
}
process.stdout.write(JSON.stringify({ tensors: out }));
