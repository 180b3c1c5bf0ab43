// The metrics table (#metrics): each value cell carries the exact number in data-value.

import { formatBitsPerWeight, formatBytes, formatCosine, formatDb, formatSci } from "../format";
import type { TensorReport } from "../shared/types";

type Row = { key: string; label: string; value: number; text: (n: number) => string; help: string };

export function renderMetrics(table: HTMLTableElement, r: TensorReport): void {
  const m = r.metrics;
  const rows: Row[] = [
    {
      key: "sqnr_db",
      label: "SQNR",
      value: m.sqnr_db,
      text: formatDb,
      help: "signal power over error power",
    },
    { key: "mse", label: "MSE", value: m.mse, text: formatSci, help: "mean squared error" },
    { key: "cosine", label: "Cosine", value: m.cosine, text: formatCosine, help: "cosine similarity" },
    {
      key: "max_abs_error",
      label: "Max |error|",
      value: m.max_abs_error,
      text: formatSci,
      help: "largest absolute error",
    },
    {
      key: "bits_per_weight",
      label: "Bits / weight",
      value: r.bits_per_weight,
      text: formatBitsPerWeight,
      help: "packed codes and parameters per element",
    },
    {
      key: "packed_bytes",
      label: "Packed size",
      value: r.packed_bytes,
      text: formatBytes,
      help: "codes at their bit width plus parameters",
    },
  ];
  const body = table.tBodies[0] ?? table.createTBody();
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = row.label;
      th.title = row.help;
      const td = document.createElement("td");
      td.className = "num";
      td.dataset.metric = row.key;
      td.dataset.value = String(row.value);
      td.textContent = row.text(row.value);
      tr.append(th, td);
      return tr;
    }),
  );
}
