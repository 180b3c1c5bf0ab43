// The whole-model table (#summary): one row per tensor × compared scheme, sortable by
// any column; filled in as the worker finishes each pass. Rows are kept per scheme, so
// adding a scheme computes only its pass and removing one drops its rows.

import {
  formatBitsPerWeight,
  formatBytes,
  formatCosine,
  formatCount,
  formatDb,
  formatSci,
  formatSeconds,
} from "../format";
import { type SummaryRow, isFailedRow } from "../shared/api";
import { swatch } from "./metricsTable";
import type { Chosen } from "./palette";

interface Column {
  key: string;
  label: string;
  /** Null for a failed row's metric (sorted last). */
  value: (r: SummaryRow) => number | string | null;
  text: (r: SummaryRow) => string;
  numeric: boolean;
}

function metric(
  key: string,
  label: string,
  get: (r: Exclude<SummaryRow, { error: string }>) => number,
  show: (n: number) => string,
): Column {
  return {
    key,
    label,
    value: (r) => (isFailedRow(r) ? null : get(r)),
    text: (r) => (isFailedRow(r) ? "—" : show(get(r))),
    numeric: true,
  };
}

const COLUMNS: Column[] = [
  { key: "name", label: "Tensor", value: (r) => r.name, text: (r) => r.name, numeric: false },
  { key: "scheme", label: "Scheme", value: (r) => r.scheme, text: (r) => r.scheme, numeric: false },
  metric("numel", "Elements", (r) => r.numel, formatCount),
  metric("sqnr_db", "SQNR", (r) => r.metrics.sqnr_db, formatDb),
  metric("cosine", "Cosine", (r) => r.metrics.cosine, formatCosine),
  metric("mse", "MSE", (r) => r.metrics.mse, formatSci),
  metric("max_abs_error", "Max |error|", (r) => r.metrics.max_abs_error, formatSci),
  metric("bits_per_weight", "Bits / weight", (r) => r.bits_per_weight, formatBitsPerWeight),
  metric("packed_bytes", "Packed", (r) => r.packed_bytes, formatBytes),
];

export type SummaryState = "idle" | "running" | "done" | "cancelled" | "failed";

interface Entry {
  row: SummaryRow;
  tr: HTMLTableRowElement;
  /** Position of the tensor in the model, for the unsorted order. */
  t: number;
}

export class SummaryTable {
  private tensors: string[] = [];
  private tensorIndex = new Map<string, number>();
  private chosen: readonly Chosen[] = [];
  /** Per scheme, its rows by tensor name. */
  private entries = new Map<string, Map<string, Entry>>();
  private sortKey = "";
  private ascending = true;
  /** Every entry of the chosen schemes, in display order (the body's rows, in the same order). */
  private order: Entry[] = [];
  private schemeIndex = new Map<string, number>();
  private readonly head: HTMLTableSectionElement;
  private readonly body: HTMLTableSectionElement;

  constructor(
    private readonly table: HTMLTableElement,
    private readonly progress: HTMLProgressElement,
    private readonly progressText: HTMLElement,
    private readonly onSelect: (name: string) => void,
  ) {
    this.head = table.tHead ?? table.createTHead();
    this.body = table.tBodies[0] ?? table.createTBody();
    this.renderHead();
    this.body.addEventListener("click", (e) => {
      const row = e.target instanceof Element ? e.target.closest<HTMLTableRowElement>("tr[data-name]") : null;
      if (row?.dataset.name !== undefined) this.onSelect(row.dataset.name);
    });
  }

  /** A newly opened model: no rows, every pass to do. */
  setModel(tensors: readonly string[]): void {
    this.tensors = [...tensors];
    this.tensorIndex = new Map(tensors.map((t, i) => [t, i]));
    this.entries.clear();
    this.renderBody();
    this.updateProgress();
    this.setState("idle");
  }

  /** The compared schemes changed: drop the rows of those no longer chosen. */
  setSchemes(chosen: readonly Chosen[]): void {
    this.chosen = chosen;
    this.schemeIndex = new Map(chosen.map((c, i) => [c.scheme, i]));
    for (const s of [...this.entries.keys()]) if (!chosen.some((c) => c.scheme === s)) this.entries.delete(s);
    for (const c of chosen) {
      const rows = this.entries.get(c.scheme);
      if (rows) for (const e of rows.values()) e.tr.style.setProperty("--chip", c.color);
    }
    this.renderBody();
    this.updateProgress();
  }

  /** Forgets every row (Run again). */
  clearRows(): void {
    this.entries.clear();
    this.renderBody();
    this.updateProgress();
  }

  /** The tensors a scheme's pass has still to do, in model order. */
  missing(scheme: string): string[] {
    const rows = this.entries.get(scheme);
    return rows ? this.tensors.filter((t) => !rows.has(t)) : [...this.tensors];
  }

  get complete(): boolean {
    return this.chosen.every((c) => this.missing(c.scheme).length === 0);
  }

  add(rows: readonly SummaryRow[]): void {
    for (const r of rows) {
      if (!this.chosen.some((c) => c.scheme === r.scheme)) continue;
      let byName = this.entries.get(r.scheme);
      if (!byName) this.entries.set(r.scheme, (byName = new Map()));
      // A run's result repeats the rows its progress already delivered.
      if (byName.has(r.name)) continue;
      const entry = { row: r, tr: this.row(r), t: this.tensorIndex.get(r.name) ?? 0 };
      byName.set(r.name, entry);
      this.insert(entry);
    }
    this.updateProgress();
  }

  /**
   * Puts a new row where the current order wants it (binary search, one DOM insert):
   * a later pass's rows go between the earlier ones without redrawing thousands of rows.
   */
  private insert(entry: Entry): void {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.compare(this.order[mid]!, entry) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.body.insertBefore(entry.tr, this.order[lo]?.tr ?? null);
    this.order.splice(lo, 0, entry);
  }

  /** The sorted column's order if any, then model order, then the order of the chips. */
  private compare(a: Entry, b: Entry): number {
    const col = COLUMNS.find((c) => c.key === this.sortKey);
    if (col) {
      const c = compareValues(col.value(a.row), col.value(b.row), this.ascending ? 1 : -1);
      if (c !== 0) return c;
    }
    return a.t - b.t || (this.schemeIndex.get(a.row.scheme) ?? 0) - (this.schemeIndex.get(b.row.scheme) ?? 0);
  }

  /** `elapsedMs`: how long the run took, shown and kept in data-elapsed-ms once it ends. */
  setState(state: SummaryState, elapsedMs?: number): void {
    this.table.dataset.state = state;
    if (elapsedMs === undefined) delete this.table.dataset.elapsedMs;
    else this.table.dataset.elapsedMs = String(Math.round(elapsedMs));
    const { done, total } = this.counts();
    const of = `${done} / ${total}`;
    const took = elapsedMs === undefined ? "" : ` in ${formatSeconds(elapsedMs)}`;
    const words: Record<SummaryState, string> = {
      idle: "",
      running: of,
      done: `${of}, done${took}`,
      cancelled: `cancelled at ${of}`,
      failed: `failed at ${of}`,
    };
    const what = ` (${this.tensors.length} tensors × ${this.chosen.length} schemes)`;
    this.progressText.textContent = state === "idle" ? "" : words[state] + what;
  }

  private counts(): { done: number; total: number } {
    let done = 0;
    for (const c of this.chosen) done += this.entries.get(c.scheme)?.size ?? 0;
    return { done, total: this.tensors.length * this.chosen.length };
  }

  private updateProgress(): void {
    const { done, total } = this.counts();
    this.progress.max = Math.max(total, 1);
    this.progress.value = done;
    this.progress.dataset.done = String(done);
    this.progress.dataset.total = String(total);
    this.progress.setAttribute("aria-valuetext", `${done} of ${total} tensor × scheme rows`);
    if (this.table.dataset.state === "running") this.setState("running");
  }

  private sortBy(key: string): void {
    // First click ascending: for SQNR and cosine that puts the worst rows on top.
    this.ascending = this.sortKey === key ? !this.ascending : true;
    this.sortKey = key;
    this.renderHead();
    this.renderBody();
  }

  private renderHead(): void {
    const tr = document.createElement("tr");
    for (const c of COLUMNS) {
      const th = document.createElement("th");
      th.scope = "col";
      th.dataset.key = c.key;
      if (c.numeric) th.className = "num";
      const active = this.sortKey === c.key;
      th.setAttribute("aria-sort", active ? (this.ascending ? "ascending" : "descending") : "none");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = c.label + (active ? (this.ascending ? " ▲" : " ▼") : "");
      button.addEventListener("click", () => this.sortBy(c.key));
      th.append(button);
      tr.append(th);
    }
    this.head.replaceChildren(tr);
  }

  private renderBody(): void {
    this.order = [];
    for (const c of this.chosen) this.order.push(...(this.entries.get(c.scheme)?.values() ?? []));
    this.order.sort((a, b) => this.compare(a, b));
    // Rows are built once (in add) and only moved here.
    this.body.replaceChildren(...this.order.map((e) => e.tr));
  }

  private row(r: SummaryRow): HTMLTableRowElement {
    const tr = document.createElement("tr");
    tr.dataset.name = r.name;
    tr.dataset.scheme = r.scheme;
    const color = this.chosen.find((c) => c.scheme === r.scheme)?.color;
    if (color) tr.style.setProperty("--chip", color);
    if (isFailedRow(r)) {
      tr.classList.add("failed");
      tr.title = r.error;
    }
    for (const c of COLUMNS) {
      const td = document.createElement("td");
      if (isFailedRow(r) && c.numeric) {
        // One cell with the core's message in place of the numbers.
        td.colSpan = COLUMNS.filter((x) => x.numeric).length;
        td.className = "message";
        td.textContent = r.error;
        tr.append(td);
        break;
      }
      td.dataset.key = c.key;
      const v = c.value(r);
      if (v !== null) td.dataset.value = String(v);
      if (c.key === "scheme") td.append(swatch("var(--chip)"));
      td.append(c.text(r));
      if (c.numeric) td.className = "num";
      tr.append(td);
    }
    return tr;
  }
}

/**
 * Ascending or descending by `sign`; failed rows (null) and NaN stay last either way,
 * Infinity (an exact reconstruction) counts as the largest value.
 */
function compareValues(a: number | string | null, b: number | string | null, sign: number): number {
  const missing = (v: unknown) => v === null || (typeof v === "number" && Number.isNaN(v));
  if (missing(a)) return missing(b) ? 0 : 1;
  if (missing(b)) return -1;
  if (typeof a === "number" && typeof b === "number") return sign * (a === b ? 0 : a < b ? -1 : 1);
  return sign * String(a).localeCompare(String(b));
}
