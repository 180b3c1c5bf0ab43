// A pool of module Web Workers behind Comlink, and a work queue over them: each free
// worker takes the next item, results come back in item order. Knows nothing of models
// or schemes, so that other work (row blocks of one big GEMM, say) can use it too.
// Needs no SharedArrayBuffer: items and results travel as ordinary messages.

import * as Comlink from "comlink";

interface Member<T> {
  worker: Worker;
  api: Comlink.Remote<T>;
  /** Rejects when the worker is terminated, so that calls it will never answer end. */
  gone: Promise<never>;
  stop: (reason: Error) => void;
  /** Items handed to this member and not yet settled. */
  busy: number;
}

/** What became of one item of `map`: undefined when it was never started. */
export type Outcome<R> = PromiseSettledResult<R> | undefined;

export interface MapOptions {
  /** Once aborted, no further item is started; items under way run to their end. */
  signal?: AbortSignal;
  /**
   * Awaited by each member before it takes its first item; a rejection leaves it out,
   * and so does the work running out (or an abort) before it has joined.
   */
  join?: (member: number) => Promise<void>;
}

export interface MapResult<R> {
  /** Per item, in item order. */
  outcomes: Outcome<R>[];
  /** Per item, the member that ran it (-1: never started). */
  ranOn: number[];
  aborted: boolean;
}

export class WorkerPool<T> {
  private members: Member<T>[] = [];

  /** `spawn(i)` makes the i-th worker; the pool starts with `size` of them. */
  constructor(
    private readonly spawn: (index: number) => Worker,
    size: number,
  ) {
    this.resize(size);
  }

  get size(): number {
    return this.members.length;
  }

  /** The i-th worker's API. Member 0 always exists. */
  api(i: number): Comlink.Remote<T> {
    const m = this.members[i];
    if (!m) throw new Error(`no worker ${i} in a pool of ${this.members.length}`);
    return m.api;
  }

  /** Items under way across the pool. */
  get busy(): number {
    return this.members.reduce((n, m) => n + m.busy, 0);
  }

  /**
   * Grows or shrinks the pool (at least one worker). Shrinking terminates the last
   * workers: their unfinished items reject with "worker stopped".
   */
  resize(size: number): void {
    const n = Math.max(1, Math.floor(size));
    while (this.members.length > n) {
      const m = this.members.pop()!;
      m.worker.terminate();
      m.stop(new Error("worker stopped"));
    }
    while (this.members.length < n) this.members.push(this.member(this.members.length));
  }

  private member(index: number): Member<T> {
    const worker = this.spawn(index);
    let stop: (reason: Error) => void = () => {};
    const gone = new Promise<never>((_, reject) => (stop = reject));
    // Nobody may be waiting on it when it rejects.
    gone.catch(() => {});
    return { worker, api: Comlink.wrap<T>(worker), gone, stop, busy: 0 };
  }

  /**
   * Runs `work` on every item over the pool, one item per worker at a time, each worker
   * taking the next item as soon as it is free (dynamic, so unequal items balance).
   * A rejected item is reported in its outcome and does not stop the others.
   */
  async map<I, R>(
    items: readonly I[],
    work: (api: Comlink.Remote<T>, item: I, member: number) => Promise<R>,
    options: MapOptions = {},
  ): Promise<MapResult<R>> {
    const outcomes: Outcome<R>[] = new Array<Outcome<R>>(items.length).fill(undefined);
    const ranOn: number[] = new Array<number>(items.length).fill(-1);
    let next = 0;
    const aborted = () => options.signal?.aborted === true;
    // Settles once no item is left to start: a member still joining then need not.
    let noneLeft: () => void = () => {};
    const drained = new Promise<void>((resolve) => (noneLeft = resolve));
    if (items.length === 0) noneLeft();
    options.signal?.addEventListener("abort", () => noneLeft(), { once: true });
    // The members present now; one terminated while this runs stops taking items.
    const lane = async (index: number, m: Member<T>): Promise<void> => {
      if (options.join) {
        try {
          const joined = await Promise.race([
            options.join(index).then(() => true),
            m.gone,
            drained.then(() => false),
          ]);
          if (!joined) return;
        } catch {
          return;
        }
      }
      while (next < items.length && !aborted() && this.members[index] === m) {
        const i = next++;
        if (next === items.length) noneLeft();
        ranOn[i] = index;
        m.busy++;
        try {
          outcomes[i] = {
            status: "fulfilled",
            value: await Promise.race([work(m.api, items[i]!, index), m.gone]),
          };
        } catch (reason) {
          outcomes[i] = { status: "rejected", reason };
        } finally {
          m.busy--;
        }
      }
    };
    await Promise.all(this.members.map((m, i) => lane(i, m)));
    return { outcomes, ranOn, aborted: aborted() };
  }
}
