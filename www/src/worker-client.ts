// The page's handle on the compute workers: a pool of them, each with the same wasm
// build and the same model open. Member 0 also serves everything that is not spread
// over the pool (scheme checks, the selected tensor's detail).

import * as Comlink from "comlink";
import { messageOf } from "./components/errorBanner";
import { WorkerLost, WorkerPool, WorkerReplaced } from "./pool";
import type { Spawners } from "./spawn";
import { isCoreTrap } from "./shared/api";
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

/**
 * Rounds of re-running the tasks a lost worker left undone: each round marks the task a
 * worker died on as failed, so a file that kills every worker still ends.
 */
const MAX_RECOVERY_ROUNDS = 4;

/** A failure that leaves its worker unusable: the pool replaces that worker. */
function isLoss(e: unknown): boolean {
  return isCoreTrap(e) || e instanceof WorkerLost;
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

  constructor(size: number, spawn: Spawners) {
    this.pool = new WorkerPool<WorkerApi>((i) => spawn.compute(`quantscope-${i}`), size);
  }

  /**
   * The worker for single calls: scheme checks, the detail of one tensor, the layer
   * panel, downloads. Calls go to whichever worker is member 0 now, once it has loaded
   * the build and opened the model. When one traps the wasm module (or the worker
   * dies), that worker is replaced, the model is opened in the new one, and the call
   * rejects with the trap's message (which names the tensor and scheme): the page shows
   * it and goes on with the model open.
   */
  readonly primary: Api = new Proxy({} as Api, {
    get: (_target, prop) => {
      // Not a thenable, and no Comlink internals: only the WorkerApi's methods.
      if (typeof prop !== "string" || prop === "then") return undefined;
      return async (...args: unknown[]) => {
        const api = this.pool.api(0);
        await this.ready(api);
        try {
          const call = (api as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[prop]!;
          return await Promise.race([call(...args), this.pool.gone(0)]);
        } catch (e) {
          if (!isLoss(e)) throw e;
          this.pool.replace(0, api);
          const reopened = this.opened
            ? await this.ready(this.pool.api(0)).then(
                () => ` and ${this.opened?.fileName} is open again`,
                (err) => `, but reopening the model failed: ${messageOf(err)}`,
              )
            : "";
          throw new Error(`${messageOf(e)}; the worker was restarted${reopened}`);
        }
      };
    },
  });

  /** Waits until `api` has loaded the build and opened the current model, if any. */
  private async ready(api: Api): Promise<void> {
    await this.state(api).init;
    if (this.opened) await this.ensureOpen(api, this.opened);
  }

  get size(): number {
    return this.pool.size;
  }

  /**
   * Loads the wasm build in the first worker; the others load the build it chose (so
   * that every worker runs the same one) when they first join a run.
   */
  async init(choice: BuildChoice): Promise<LoadedBuild> {
    const loaded = await this.state(this.pool.api(0), choice).init;
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
    const first = this.pool.api(0);
    let info: ModelInfo;
    try {
      info = (await this.ensureOpen(first, next)) as ModelInfo;
    } catch (e) {
      // The first worker kept its previous model (unless a later open overtook this one).
      const s = this.state(first);
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

  /** Ends every worker (the playground left the page); no calls afterwards. */
  close(): void {
    this.current?.abort.abort();
    this.current = undefined;
    this.pool.close();
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
    const key = (t: { name: string; scheme: string }) => `${t.scheme}\n${t.name}`;
    const delivered = new Map<string, SummaryRow>();
    const deliver = (rows: SummaryRow[], worker: number): void => {
      for (const r of rows) delivered.set(key(r), r);
      onRows(rows, worker);
    };
    let cancelled = false;
    let pending: readonly SummaryTask[] = tasks;
    for (let round = 0; pending.length > 0 && !cancelled; round++) {
      const chunks = shares(pending, weight, this.pool.size * CALLS_PER_WORKER);
      const result = await this.pool.map(
        chunks,
        async (api, chunk, worker) => {
          try {
            return await api.summarize(
              run,
              m.generation,
              chunk,
              Comlink.proxy((_done: number, _total: number, rows: SummaryRow[]) => deliver(rows, worker)),
            );
          } catch (e) {
            // A worker lost (a trap, which it reports as the row of the task it was on, or
            // its death): the pool replaces it and its undone tasks run again below.
            if (abort.signal.aborted || isLoss(e) || e instanceof WorkerReplaced) throw e;
            // The worker failed the call as a whole (its wasm build or the model did not
            // load there, say): its undelivered tasks become failure rows, and the other
            // workers go on.
            const error = messageOf(e);
            const failed: SummaryFailure[] = chunk
              .filter((t) => !delivered.has(key(t)))
              .map((t) => ({ ...t, error }));
            deliver(failed, worker);
            return { rows: failed, cancelled: false };
          }
        },
        {
          signal: abort.signal,
          // A worker joins once it has the model open; one that cannot open it sits out.
          join: (i) => this.ready(this.pool.api(i)),
          replaceOn: isLoss,
        },
      );
      cancelled =
        result.aborted || result.outcomes.some((o) => o?.status === "fulfilled" && o.value.cancelled);
      // What a lost worker left: again, on the fresh ones. A worker that died (rather
      // than trapped, which names its task) died on the first task it had not answered.
      const again: SummaryTask[] = [];
      result.outcomes.forEach((o, i) => {
        if (o?.status === "fulfilled") return;
        const undone = chunks[i]!.filter((t) => !delivered.has(key(t)));
        if (o?.status === "rejected" && o.reason instanceof WorkerLost && undone.length > 0) {
          const [culprit] = undone.splice(0, 1);
          const what = `tensor \`${culprit!.name}\` under ${culprit!.scheme}`;
          deliver(
            [{ ...culprit!, error: `${messageOf(o.reason)} while computing ${what}` }],
            ranOnOf(result, i),
          );
        }
        again.push(...undone);
      });
      if (again.length > 0 && round + 1 >= MAX_RECOVERY_ROUNDS) {
        const error = `not computed: workers were lost ${MAX_RECOVERY_ROUNDS} times in this run`;
        deliver(
          again.map((t) => ({ ...t, error })),
          0,
        );
        break;
      }
      pending = again;
    }
    if (this.current?.run === run) this.current = undefined;
    cancelled ||= tasks.some((t) => !delivered.has(key(t)));
    const rows = tasks.flatMap((t) => {
      const r = delivered.get(key(t));
      return r ? [r] : [];
    });
    return { rows, cancelled };
  }

  /** Ends run `run`: no further share starts, and every worker stops at its next tensor. */
  cancel(run: number): void {
    if (this.current?.run !== run) return;
    this.current.abort.abort();
    for (let i = 0; i < this.pool.size; i++) void this.pool.api(i).cancelSummary(run);
  }
}

function ranOnOf(result: { ranOn: number[] }, item: number): number {
  return Math.max(0, result.ranOn[item] ?? 0);
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
