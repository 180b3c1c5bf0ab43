// How the playground starts its workers. The app (Vite) and the npm package (bundled
// by scripts/build-package.mjs, then by whatever bundler the embedding page uses) find
// the worker scripts differently, so the components take these functions rather than
// naming a worker file themselves. Each `new Worker(new URL(...), ...)` below stays a
// literal: that is the pattern bundlers recognise to emit the worker.

export interface Spawners {
  /** A compute worker (worker/worker.ts): the analysis pool, whole-model runs, auto search. */
  compute(name: string): Worker;
  /** The training lab's worker (worker/train-worker.ts). */
  train(): Worker;
  /** Where the training lab's built-in dataset (scikit-learn's digits) is fetched from. */
  digitsUrl(): string;
}

/** The app's workers, as Vite builds them (www/src/worker/). */
export const appSpawners: Spawners = {
  compute: (name) =>
    new Worker(new URL("./worker/worker.ts", import.meta.url), {
      type: "module",
      name,
    }),
  train: () =>
    new Worker(new URL("./worker/train-worker.ts", import.meta.url), {
      type: "module",
      name: "quantscope-train",
    }),
  digitsUrl: () => new URL("digits.npz", document.baseURI).href,
};
