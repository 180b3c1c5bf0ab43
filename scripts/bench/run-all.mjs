// `npm run bench`: runs every scripts/bench/*.mjs (except this one) in turn, each in its
// own Node with relaxed SIMD enabled (Node 20 has it behind a flag), so every engineer's
// benchmark joins by adding a file here.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dir = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
for (const f of readdirSync(dir).sort()) {
  if (!f.endsWith(".mjs") || f === "run-all.mjs") continue;
  console.log(`\n=== ${f} ===`);
  execFileSync(
    process.execPath,
    ["--experimental-wasm-relaxed-simd", "--max-old-space-size=8192", path.join(dir, f), ...args],
    { stdio: "inherit" },
  );
}
