// The metrics table (#metrics): one row per metric, one column per compared scheme;
// each value cell carries its scheme, its metric and the exact number in data-value.

import { formatBitsPerWeight, formatBytes, formatCosine, formatDb, formatSci } from "../format";
import type { AnalyzeResult } from "../shared/api";
import type { TensorReport } from "../shared/types";
import type { Chosen } from "./palette";

interface Row {
  key: string;
  label: string;
  value: (r: TensorReport) => number;
  text: (n: number) => string;
  help: string;
  /** Which way is better, to mark the best column when several are compared. */
  better: "high" | "low";
}

const ROWS: Row[] = [
  {
    key: "sqnr_db",
    label: "SQNR",
    value: (r) => r.metrics.sqnr_db,
    text: formatDb,
    help: "signal power over error power",
    better: "high",
  },
  {
    key: "mse",
    label: "MSE",
    value: (r) => r.metrics.mse,
    text: formatSci,
    help: "mean squared error",
    better: "low",
  },
  {
    key: "cosine",
    label: "Cosine",
    value: (r) => r.metrics.cosine,
    text: formatCosine,
    help: "cosine similarity",
    better: "high",
  },
  {
    key: "max_abs_error",
    label: "Max |error|",
    value: (r) => r.metrics.max_abs_error,
    text: formatSci,
    help: "largest absolute error",
    better: "low",
  },
  {
    key: "bits_per_weight",
    label: "Bits / weight",
    value: (r) => r.bits_per_weight,
    text: formatBitsPerWeight,
    help: "packed codes and parameters per element",
    better: "low",
  },
  {
    key: "packed_bytes",
    label: "Packed size",
    value: (r) => r.packed_bytes,
    text: formatBytes,
    help: "codes at their bit width plus parameters",
    better: "low",
  },
];

export function renderMetrics(
  table: HTMLTableElement,
  results: readonly AnalyzeResult[],
  chosen: readonly Chosen[],
): void {
  const colorOf = (s: string) => chosen.find((c) => c.scheme === s)?.color ?? "currentColor";
  // More than three columns do not fit half the panel: the stylesheet gives the table a row.
  table.dataset.columns = String(results.length);
  const head = table.tHead ?? table.createTHead();
  const htr = document.createElement("tr");
  const corner = document.createElement("th");
  corner.scope = "col";
  corner.textContent = "Metric";
  htr.append(corner);
  for (const res of results) {
    const th = document.createElement("th");
    th.scope = "col";
    th.className = "num scheme-col";
    th.dataset.scheme = res.scheme;
    th.append(swatch(colorOf(res.scheme)), res.scheme);
    if ("error" in res) th.title = res.error;
    htr.append(th);
  }
  head.replaceChildren(htr);

  const ok = results.flatMap((r) => ("report" in r ? [r.report] : []));
  const body = table.tBodies[0] ?? table.createTBody();
  body.replaceChildren(
    ...ROWS.map((row) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = row.label;
      th.title = row.help;
      tr.append(th);
      const values = ok.map(row.value).filter((v) => !Number.isNaN(v));
      const best = row.better === "high" ? Math.max(...values) : Math.min(...values);
      for (const res of results) {
        const td = document.createElement("td");
        td.className = "num";
        td.dataset.scheme = res.scheme;
        td.dataset.metric = row.key;
        if ("report" in res) {
          const v = row.value(res.report);
          td.dataset.value = String(v);
          td.textContent = row.text(v);
          // Bold the best of several, unless all are equal (nothing to choose between).
          if (ok.length > 1 && v === best && values.some((x) => x !== best)) td.classList.add("best");
        } else {
          td.textContent = "—";
          td.title = res.error;
          td.classList.add("failed");
        }
        tr.append(td);
      }
      return tr;
    }),
  );
}

export function swatch(color: string): HTMLElement {
  const s = document.createElement("span");
  s.className = "swatch";
  s.style.background = color;
  s.setAttribute("aria-hidden", "true");
  return s;
}
