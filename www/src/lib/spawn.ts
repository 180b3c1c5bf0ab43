// The package's workers and dataset, found next to the bundled module (package/): the
// `new Worker(new URL(...))` and `new URL(...)` literals are what Vite, webpack and
// rspack recognise to copy these files into the embedding page's build, and what a
// plain <script type="module"> resolves against the module's own URL.

import type { Spawners } from "../spawn";

export const packageSpawners: Spawners = {
  compute: (name) => new Worker(new URL("./worker.js", import.meta.url), { type: "module", name }),
  train: () =>
    new Worker(new URL("./train-worker.js", import.meta.url), { type: "module", name: "quantscope-train" }),
  digitsUrl: () => new URL("./digits.npz", import.meta.url).href,
};
