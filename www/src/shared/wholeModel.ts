// Types of the whole-model runs (src/graph/, `quantscope run --json`), kept in sync by
// hand with src/graph/mod.rs; the e2e test compares the page with the CLI's JSON.

import type { Metrics } from "./types";

export interface GraphInput {
  name: string;
  dtype: string;
  shape: number[];
  /** "given", or the rule that generated the values. */
  source: string;
}

export interface GraphNode {
  index: number;
  name: string;
  op_type: string;
  inputs: string[];
  outputs: string[];
  weight: string | null;
}

export interface GraphInfo {
  specs: { name: string; dtype: string; dims: (number | string)[] }[];
  inputs: GraphInput[];
  nodes: GraphNode[];
  weights: { name: string; shape: number[]; dtype: string; nodes: number[] }[];
  outputs: string[];
  notes: string[];
}

export interface NodeRow {
  index: number;
  node: string;
  op_type: string;
  output: string;
  shape: number[];
  accumulated: Metrics | null;
  isolated: Metrics | null;
  weight: string | null;
  scheme: string | null;
  excluded: boolean;
}

export interface OutputRow {
  name: string;
  shape: number[];
  metrics: Metrics;
  top1_agreement: number | null;
  row_cosine: number | null;
  float_preview: number[];
  quantized_preview: number[];
}

export interface ActQuant {
  value: string;
  scale: number;
  zero_point: number;
  qmin: number;
  qmax: number;
  range: [number, number];
}

export interface RunReport {
  mode: "weights" | "full";
  scheme: string | null;
  act: string | null;
  inputs: GraphInput[];
  nodes: NodeRow[];
  outputs: OutputRow[];
  ranking: number[];
  excluded: string[];
  nodes_to_exclude: string[];
  activations: ActQuant[];
  notes: string[];
}

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

/** A graph output, float and quantized, whole. */
export interface OutputValues {
  name: string;
  shape: number[];
  float: number[];
  quantized: number[];
}
