// The whole-model table (#summary): one row per tensor under the chosen scheme,
// sortable by any column; filled in as the worker finishes each tensor.

import { formatBitsPerWeight, formatCosine, formatCount, formatDb, formatSci } from "../format";
import type { TensorSummary } from "../shared/types";

interface Column {
  key: string;
  label: string;
  value: (r: TensorSummary) => number | string;
  text: (r: TensorSummary) => string;
  numeric: boolean;
}

const COLUMNS: Column[] = [
  { key: "name", label: "Tensor", value: (r) => r.name, text: (r) => r.name, numeric: false },
  {
    key: "numel",
    label: "Elements",
    value: (r) => r.numel,
    text: (r) => formatCount(r.numel),
    numeric: true,
  },
  {
    key: "sqnr_db",
    label: "SQNR",
    value: (r) => r.metrics.sqnr_db,
    text: (r) => formatDb(r.metrics.sqnr_db),
    numeric: true,
  },
  {
    key: "cosine",
    label: "Cosine",
    value: (r) => r.metrics.cosine,
    text: (r) => formatCosine(r.metrics.cosine),
    numeric: true,
  },
  {
    key: "mse",
    label: "MSE",
    value: (r) => r.metrics.mse,
    text: (r) => formatSci(r.metrics.mse),
    numeric: true,
  },
  {
    key: "max_abs_error",
    label: "Max |error|",
    value: (r) => r.metrics.max_abs_error,
    text: (r) => formatSci(r.metrics.max_abs_error),
    numeric: true,
  },
  {
    key: "bits_per_weight",
    label: "Bits / weight",
    value: (r) => r.bits_per_weight,
    text: (r) => formatBitsPerWeight(r.bits_per_weight),
    numeric: true,
  },
];

export type SummaryState = "idle" | "running" | "done" | "cancelled" | "failed";

export class SummaryTable {
  private rows: TensorSummary[] = [];
  private sortKey = "";
  private ascending = true;
  private frame: number | undefined;
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

  /** Empties the table for a new run over `total` tensors. */
  start(total: number): void {
    this.rows = [];
    this.renderBody();
    this.setProgress(0, total);
    this.setState("running");
  }

  add(rows: TensorSummary[], done: number, total: number): void {
    this.rows.push(...rows);
    this.setProgress(done, total);
    if (this.sortKey === "") {
      // Unsorted: new rows go at the end, no need to rebuild the table.
      this.body.append(...rows.map((r) => this.row(r)));
    } else {
      // Rebuild the sorted table at most once a frame.
      this.frame ??= requestAnimationFrame(() => this.renderBody());
    }
  }

  /** Replaces the rows with the run's final list (the authoritative one). */
  finish(rows: TensorSummary[], state: SummaryState, total: number): void {
    // Progress normally delivered every row already; rebuild only if it did not.
    const stale = rows.length !== this.rows.length || this.frame !== undefined;
    this.rows = [...rows];
    if (stale) this.renderBody();
    this.setProgress(rows.length, total);
    this.setState(state);
  }

  setState(state: SummaryState): void {
    this.table.dataset.state = state;
    const done = Number(this.progress.value);
    const total = this.progress.max;
    const words: Record<SummaryState, string> = {
      idle: "",
      running: `${done} / ${total} tensors`,
      done: `${total} / ${total} tensors, done`,
      cancelled: `cancelled at ${done} / ${total}`,
      failed: `failed at ${done} / ${total}`,
    };
    this.progressText.textContent = words[state];
  }

  private setProgress(done: number, total: number): void {
    this.progress.max = Math.max(total, 1);
    this.progress.value = done;
    this.progress.dataset.done = String(done);
    this.progress.dataset.total = String(total);
    this.progress.setAttribute("aria-valuetext", `${done} of ${total} tensors`);
    if (this.table.dataset.state === "running") this.progressText.textContent = `${done} / ${total} tensors`;
  }

  private sortBy(key: string): void {
    // First click ascending: for SQNR and cosine that puts the worst tensors on top.
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
    if (this.frame !== undefined) cancelAnimationFrame(this.frame);
    this.frame = undefined;
    const col = COLUMNS.find((c) => c.key === this.sortKey);
    const rows = [...this.rows];
    if (col) {
      const sign = this.ascending ? 1 : -1;
      rows.sort((a, b) => {
        const x = col.value(a);
        const y = col.value(b);
        return (
          sign *
          (typeof x === "number" && typeof y === "number"
            ? compareNumbers(x, y)
            : String(x).localeCompare(String(y)))
        );
      });
    }
    this.body.replaceChildren(...rows.map((r) => this.row(r)));
  }

  private row(r: TensorSummary): HTMLTableRowElement {
    const tr = document.createElement("tr");
    tr.dataset.name = r.name;
    for (const c of COLUMNS) {
      const td = document.createElement("td");
      td.dataset.key = c.key;
      td.dataset.value = String(c.value(r));
      td.textContent = c.text(r);
      if (c.numeric) td.className = "num";
      tr.append(td);
    }
    return tr;
  }
}

/** Numeric order that keeps NaN last and treats Infinity as the largest value. */
function compareNumbers(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a === b ? 0 : a < b ? -1 : 1;
}
