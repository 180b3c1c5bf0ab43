// The automatic mixed-precision search's types (src/auto/, as `quantscope auto --json`
// prints them) and the one computation the page does itself: the choice under a budget,
// a lookup on the front the worker returned (the same rule as knapsack::choose), so that
// moving the budget costs no call into the worker.

export type Objective = "output" | "accuracy" | "weights";

export interface OptionRow {
  candidate: string;
  scheme: string;
  bytes: number;
  damage: number;
}

export interface TensorOptions {
  name: string;
  shape: number[];
  numel: number;
  options: OptionRow[];
  unavailable: { candidate: string; reason: string }[];
}

export interface Sensitivity {
  objective: Objective;
  label: string;
  candidates: string[];
  tensors: TensorOptions[];
  reference: number;
  measurements: number;
  notes: string[];
}

export interface MixRow {
  name: string;
  shape: number[];
  candidate: string;
  scheme: string;
  bytes: number;
  bpw: number;
  damage: number;
}

export interface Mix {
  bytes: number;
  bpw: number;
  estimated_damage: number;
  /** null: infinite (an exact reconstruction). */
  estimated: number | null;
  measured_damage: number | null;
  measured: number | null;
  choice: number[];
  tensors: MixRow[];
}

export interface UniformPoint {
  candidate: string;
  fallbacks: number;
  mix: Mix;
}

export interface FrontPoint {
  bytes: number;
  bpw: number;
  estimated: number | null;
}

/** `AutoSearch.finish`: the report with no budget, and each front point's choice. */
export interface AutoReport {
  objective: Objective;
  label: string;
  candidates: string[];
  tensors: number;
  weights: number;
  float_bytes: number;
  reference: number;
  uniform: UniformPoint[];
  front: FrontPoint[];
  front_choices: number[][];
  sensitivity_measurements: number;
  sensitivity_ms: number;
  search_ms: number;
  notes: string[];
  sensitivity: Sensitivity;
}

export interface AutoOpenRequest {
  dims: Record<string, number>;
  seed: number;
  inputs?: { file: Blob; fileName: string } | undefined;
  labels?: string | undefined;
}

export interface AutoOpened {
  runnable: boolean;
  unrunnable: string | null;
  hasLabels: boolean;
  defaultCandidates: string[];
}

/** Bytes for a bits-per-weight budget: floor(bpw · weights / 8), as Budget::bytes. */
export function budgetBytes(bpw: number, weights: number): number {
  return Math.floor((bpw * weights) / 8);
}

/**
 * The front's best point within `budget` bytes (the last that fits: damage falls
 * strictly along the front), or -1 when none fits.
 */
export function chooseIndex(front: FrontPoint[], budget: number): number {
  let lo = 0;
  let hi = front.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (front[mid]!.bytes <= budget) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** The per-tensor rows of a choice (option index per tensor). */
export function mixRows(table: Sensitivity, choice: number[]): MixRow[] {
  return table.tensors.map((t, i) => {
    const o = t.options[choice[i]!]!;
    return {
      name: t.name,
      shape: t.shape,
      candidate: o.candidate,
      scheme: o.scheme,
      bytes: o.bytes,
      bpw: (8 * o.bytes) / Math.max(t.numel, 1),
      damage: o.damage,
    };
  });
}
