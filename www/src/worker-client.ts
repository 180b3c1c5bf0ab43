// The page's handle on the compute workers: a pool of them, each with the same wasm
// build and the same model open. Member 0 also serves everything that is not spread
// over the pool (scheme checks, the selected tensor's detail).

import * as Comlink from "comlink";
import { messageOf } from "./components/errorBanner";
import { WorkerPool } from "./pool";
import type {
  BuildChoice,
  LoadedBuild,
  ModelSource,
  SummaryFailure,
  SummaryRow,
  SummaryTask,
  WorkerApi,
} from "./shared/api";
import type { ModelInfo } from "./shared/types";

export type Api = Comlink.Remote<WorkerApi>;

/**
 * Tasks per pool call: about this many calls per worker over a run. More calls balance
 * unequal tensors better; fewer cost fewer round trips (a few per call).
 */
const CALLS_PER_WORKER = 8;

export interface PoolSummary {
  /** Every row computed, in task order. */
  rows: SummaryRow[];
  cancelled: boolean;
}

interface Opened {
  source: ModelSource;
  fileName: string;
  generation: number;
}

/** Per worker: its wasm build loading, and the generation of the model it opens or has. */
interface MemberState {
  init: Promise<LoadedBuild>;
  generation: number;
  open: Promise<unknown>;
}

export class ComputeWorkers {
  private readonly pool: WorkerPool<WorkerApi>;
  private readonly members = new WeakMap<Api, MemberState>();
  private build: BuildChoice = "auto";
  private opened: Opened | undefined;
  private generations = 0;
  /** The run under way, if any: at most one, a newer one ends it. */
  private current: { run: number; abort: AbortController } | undefined;

  constructor(size: number) {
    this.pool = new WorkerPool<WorkerApi>(
      (i) =>
        new Worker(new URL("./worker/worker.ts", import.meta.url), {
          type: "module",
          name: `quantscope-${i}`,
        }),
      size,
    );
  }

  /** The worker for single calls: scheme checks, the detail of one tensor. */
  get primary(): Api {
    return this.pool.api(0);
  }

  get size(): number {
    return this.pool.size;
  }

  /**
   * Loads the wasm build in the first worker; the others load the build it chose (so
   * that every worker runs the same one) when they first join a run.
   */
  async init(choice: BuildChoice): Promise<LoadedBuild> {
    const loaded = await this.state(this.primary, choice).init;
    this.build = loaded.build === "relaxed" ? "auto" : "simd128";
    return loaded;
  }

  private state(api: Api, choice = this.build): MemberState {
    let s = this.members.get(api);
    if (!s) {
      s = { init: api.init(choice), generation: -1, open: Promise.resolve() };
      // Reported when a run needs this worker; unhandled until then.
      s.init.catch(() => {});
      this.members.set(api, s);
    }
    return s;
  }

  /** Opens `m` on one worker, unless it has it open (or is opening it) already. */
  private ensureOpen(api: Api, m: Opened): Promise<unknown> {
    const s = this.state(api);
    if (s.generation !== m.generation) {
      s.generation = m.generation;
      s.open = s.init.then(() => api.open(m.source, m.fileName, m.generation));
      s.open.catch(() => {});
    }
    return s.open;
  }

  /**
   * Opens a model in every worker at once. The first worker's answer decides: on its
   * failure the previous model stays open (workers that did open the new one reopen the
   * previous one before their next run). Rejects with the first worker's message.
   */
  async open(source: ModelSource, fileName: string): Promise<ModelInfo> {
    const next: Opened = { source, fileName, generation: ++this.generations };
    for (let i = 1; i < this.pool.size; i++) void this.ensureOpen(this.pool.api(i), next);
    let info: ModelInfo;
    try {
      info = (await this.ensureOpen(this.primary, next)) as ModelInfo;
    } catch (e) {
      // The first worker kept its previous model (unless a later open overtook this one).
      const s = this.state(this.primary);
      if (s.generation === next.generation) {
        s.generation = this.opened?.generation ?? -1;
        s.open = Promise.resolve();
      }
      throw e;
    }
    this.opened = next;
    return info;
  }

  /**
   * Workers from now on (at least 1). The run under way, if any, ends first: a worker
   * that goes away takes its unfinished tasks with it.
   */
  resize(size: number): void {
    this.current?.abort.abort();
    this.current = undefined;
    this.pool.resize(size);
  }

  /**
   * Computes the tasks over the pool, a few consecutive tasks per call, so each worker
   * takes the next share when it is free. `onRows` gets rows as workers report them
   * (in no particular order across workers); a tensor a scheme cannot encode is a
   * failure row, as is every task of a call that a worker failed as a whole.
   * `weight(task)` (its element count) sizes the shares. A newer run ends this one.
   */
  async summarize(
    run: number,
    tasks: readonly SummaryTask[],
    weight: (t: SummaryTask) => number,
    onRows: (rows: SummaryRow[], worker: number) => void,
  ): Promise<PoolSummary> {
    const m = this.opened;
    if (!m) throw new Error("no model is open");
    this.current?.abort.abort();
    const abort = new AbortController();
    this.current = { run, abort };
    const chunks = shares(tasks, weight, this.pool.size * CALLS_PER_WORKER);
    const result = await this.pool.map(
      chunks,
      async (api, chunk, worker) => {
        const delivered = new Set<string>();
        const deliver = (rows: SummaryRow[]): void => {
          for (const r of rows) delivered.add(`${r.scheme}\n${r.name}`);
          onRows(rows, worker);
        };
        try {
          return await api.summarize(
            run,
            m.generation,
            chunk,
            Comlink.proxy((_done: number, _total: number, rows: SummaryRow[]) => deliver(rows)),
          );
        } catch (e) {
          // The worker failed the call as a whole (its wasm build or the model did not
          // load there, say): its undelivered tasks become failure rows, and the other
          // workers go on. Not after a cancel, where "undelivered" is expected.
          if (abort.signal.aborted) throw e;
          const error = messageOf(e);
          const failed: SummaryFailure[] = chunk
            .filter((t) => !delivered.has(`${t.scheme}\n${t.name}`))
            .map((t) => ({ ...t, error }));
          deliver(failed);
          return { rows: failed, cancelled: false };
        }
      },
      {
        signal: abort.signal,
        // A worker joins once it has the model open; one that cannot open it sits out.
        join: (i) => this.ensureOpen(this.pool.api(i), m).then(() => {}),
      },
    );
    if (this.current?.run === run) this.current = undefined;
    const cancelled =
      result.aborted ||
      result.outcomes.some((o) => o === undefined || o.status === "rejected" || o.value.cancelled);
    const rows = result.outcomes.flatMap((o) => (o?.status === "fulfilled" ? o.value.rows : []));
    return { rows, cancelled };
  }

  /** Ends run `run`: no further share starts, and every worker stops at its next tensor. */
  cancel(run: number): void {
    if (this.current?.run !== run) return;
    this.current.abort.abort();
    for (let i = 0; i < this.pool.size; i++) void this.pool.api(i).cancelSummary(run);
  }
}

/**
 * Splits tasks into about `count` runs of consecutive tasks of about equal weight (a
 * task heavier than a share is a share alone). Keeps task order, so results concatenate
 * in order.
 */
export function shares<T>(tasks: readonly T[], weight: (t: T) => number, count: number): T[][] {
  const total = tasks.reduce((n, t) => n + Math.max(1, weight(t)), 0);
  const target = total / Math.max(1, count);
  const out: T[][] = [];
  let chunk: T[] = [];
  let w = 0;
  for (const t of tasks) {
    chunk.push(t);
    w += Math.max(1, weight(t));
    if (w >= target) {
      out.push(chunk);
      chunk = [];
      w = 0;
    }
  }
  if (chunk.length > 0) out.push(chunk);
  return out;
}
