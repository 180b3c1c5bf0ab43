// Types of the whole-model runs (src/graph/, `quantscope run --json`): what the worker
// returns is generated from the Rust types (core-types.ts, tests/ts_types.rs); what the
// page asks for (the requests below) is the page's own.

export type { GraphInfo, NodeRow, OutputRow, OutputValues, RunReport } from "./core-types";

/** What opens a session: `quantscope run`'s --dim and --seed (and --inputs). */
export interface GraphOpenRequest {
  dims: Record<string, number>;
  seed: number;
  inputs?: { file: Blob; fileName: string };
}

/** One quantized run: `quantscope run`'s --scheme, --mode, --act, --exclude. */
export interface GraphRunRequest {
  scheme: string;
  mode: "weights" | "full";
  act: string;
  exclude: string[];
  isolated: boolean;
}

/** Where a run is; sent at most every PROGRESS_INTERVAL_MS. */
export type GraphProgress = (stage: string, done: number, total: number) => void;
