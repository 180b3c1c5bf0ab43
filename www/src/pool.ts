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

/** A member's worker died (its script failed, or the browser ended it): calls to it end with this. */
export class WorkerLost extends Error {
  override name = "WorkerLost";
}

/** A member was replaced by a fresh worker on purpose (see `replace`): its calls end with this. */
export class WorkerReplaced extends Error {
  override name = "WorkerReplaced";
}

export interface MapOptions {
  /** Once aborted, no further item is started; items under way run to their end. */
  signal?: AbortSignal;
  /**
   * Awaited by each member before it takes its first item; a rejection leaves it out,
   * and so does the work running out (or an abort) before it has joined.
   */
  join?: (member: number) => Promise<void>;
  /**
   * True for an item's failure that leaves its worker unusable (a trapped wasm module,
   * a lost worker): the pool puts a fresh worker in its place, which joins (`join`) and
   * takes the next items. The item's outcome is the failure; re-running it is the
   * caller's choice.
   */
  replaceOn?: (reason: unknown) => boolean;
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

  /** Rejects when member `i` is lost, replaced or terminated (calls to it will not be answered). */
  gone(i: number): Promise<never> {
    const m = this.members[i];
    if (!m) throw new Error(`no worker ${i} in a pool of ${this.members.length}`);
    return m.gone;
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

  /**
   * Puts a fresh worker in place of member `index`, if `was` (when given) is still the
   * member there; otherwise someone replaced it already and nothing happens. The old
   * worker is terminated and its unanswered calls reject with WorkerReplaced.
   */
  replace(index: number, was?: Comlink.Remote<T>): void {
    const old = this.members[index];
    if (!old || (was !== undefined && old.api !== was)) return;
    old.worker.terminate();
    old.stop(new WorkerReplaced(`worker ${index} was replaced`));
    this.members[index] = this.member(index);
  }

  /**
   * Ends every worker (the playground leaving the page): unanswered calls reject with
   * "worker stopped". The pool takes no work afterwards.
   */
  close(): void {
    for (const m of this.members.splice(0)) {
      m.worker.terminate();
      m.stop(new Error("worker stopped"));
    }
  }

  private member(index: number): Member<T> {
    const worker = this.spawn(index);
    let stop: (reason: Error) => void = () => {};
    const gone = new Promise<never>((_, reject) => (stop = reject));
    // Nobody may be waiting on it when it rejects.
    gone.catch(() => {});
    // The worker's script failed outside any call, or the browser ended it (out of
    // memory): its calls would never be answered.
    worker.addEventListener("error", (e) => {
      e.preventDefault();
      stop(new WorkerLost(`worker ${index} stopped${e.message ? `: ${e.message}` : ""}`));
    });
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
    // The members present now; one terminated while this runs stops taking items, one
    // replaced (`replaceOn`) hands its lane to the fresh worker.
    const join = async (index: number, m: Member<T>): Promise<boolean> => {
      if (!options.join) return true;
      try {
        return await Promise.race([options.join(index).then(() => true), m.gone, drained.then(() => false)]);
      } catch {
        return false;
      }
    };
    const lane = async (index: number, m: Member<T>): Promise<void> => {
      if (!(await join(index, m))) return;
      while (next < items.length && !aborted()) {
        if (this.members[index] !== m) {
          // Replaced meanwhile (by a caller, after a trap): the fresh worker takes over.
          const fresh = this.members[index];
          if (!fresh || !(await join(index, fresh))) return;
          m = fresh;
          continue;
        }
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
          if (options.replaceOn?.(reason)) this.replace(index, m.api);
        } finally {
          m.busy--;
        }
      }
    };
    await Promise.all(this.members.map((m, i) => lane(i, m)));
    return { outcomes, ranOn, aborted: aborted() };
  }
}
