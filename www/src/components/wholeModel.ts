// The "Whole model" panel (#whole): the open ONNX model run float and quantized in a
// worker of its own (src/graph/ through the wasm core), with the error at every node
// along the topological order (accumulated and isolated), the worst nodes, the final
// outputs side by side, "keep float" toggles that re-run and feed the QDQ download, and
// ONNX Runtime's nodes_to_exclude list. Cancel ends the worker.

import type { Spawners } from "../spawn";
import * as Plot from "@observablehq/plot";
import * as Comlink from "comlink";
import { formatShape } from "../format";
import { type BuildChoice, type ModelSource, type WorkerApi, isCoreTrap } from "../shared/api";
import type { Metrics } from "../shared/types";
import type { GraphInfo, GraphRunRequest, NodeRow, OutputRow, RunReport } from "../shared/wholeModel";
import { messageOf } from "./errorBanner";

export interface WholeModelElements {
  root: HTMLElement;
  form: HTMLFormElement;
  scheme: HTMLInputElement;
  mode: HTMLSelectElement;
  act: HTMLInputElement;
  dims: HTMLInputElement;
  seed: HTMLInputElement;
  inputs: HTMLInputElement;
  cancel: HTMLButtonElement;
  progress: HTMLProgressElement;
  status: HTMLElement;
  body: HTMLElement;
  chart: HTMLElement;
  worst: HTMLTableElement;
  node: HTMLElement;
  outputs: HTMLTableElement;
  exclude: HTMLElement;
  download: HTMLButtonElement;
  file: HTMLAnchorElement;
  report: HTMLScriptElement;
}

/** Rows in the worst-nodes list. */
const WORST = 12;

/** `x.2=640, x.3=640` -> {"x.2": 640, "x.3": 640}; throws naming a bad item. */
export function parseDims(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of text.split(/[,\s]+/).filter((s) => s.length > 0)) {
    const m = /^(.+)=([0-9]+)$/.exec(item);
    if (!m || Number(m[2]) < 1) throw new Error(`dimension "${item}": expected NAME=N`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

function db(m: Metrics | null | undefined): string {
  if (!m) return "–";
  // An exact output: +inf from the core, null once it has been through JSON.
  return m.sqnr_db === null || m.sqnr_db === Infinity ? "∞" : m.sqnr_db.toFixed(2);
}

function cell(tr: HTMLTableRowElement, text: string, cls?: string): HTMLTableCellElement {
  const td = tr.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

export class WholeModelPanel {
  private worker: Worker | undefined;
  private api: Comlink.Remote<WorkerApi> | undefined;
  private source: { source: ModelSource; fileName: string } | undefined;
  /** The open request the worker's session was made with (JSON), if it has one. */
  private opened: string | undefined;
  private info: GraphInfo | undefined;
  private report: RunReport | undefined;
  private excluded = new Set<string>();
  private selected: string | undefined;
  private seq = 0;
  private url: string | undefined;

  constructor(
    private readonly el: WholeModelElements,
    private readonly build: () => BuildChoice,
    private readonly spawn: Spawners,
    /** Shows a weight in the tensor view. */
    private readonly showWeight: (name: string) => void,
  ) {
    el.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.run();
    });
    el.cancel.addEventListener("click", () => this.cancel());
    el.download.addEventListener("click", () => void this.download());
  }

  /** A newly opened model: the panel shows for ONNX models only. */
  setModel(source: ModelSource, fileName: string, format: string): void {
    this.stop();
    this.source = format === "onnx" ? { source, fileName } : undefined;
    this.el.root.hidden = this.source === undefined;
    this.info = undefined;
    this.report = undefined;
    this.excluded.clear();
    this.selected = undefined;
    this.el.body.hidden = true;
    this.el.status.textContent = "";
    this.el.report.textContent = "";
    delete this.el.root.dataset.state;
  }

  /** Ends the panel's worker for good (the playground left the page). */
  close(): void {
    this.stop();
  }

  /** Ends the worker (and with it any run and the float session). */
  private stop(): void {
    this.worker?.terminate();
    this.worker = undefined;
    this.api = undefined;
    this.opened = undefined;
    this.seq++;
  }

  private cancel(): void {
    this.stop();
    this.el.root.dataset.state = "cancelled";
    this.el.status.textContent = "Cancelled.";
    this.el.cancel.disabled = true;
    this.el.progress.hidden = true;
  }

  private ensureWorker(): Comlink.Remote<WorkerApi> {
    if (!this.api) {
      this.worker = this.spawn.compute("quantscope-whole-model");
      this.api = Comlink.wrap<WorkerApi>(this.worker);
      void this.api.init(this.build());
    }
    return this.api;
  }

  private progress(seq: number) {
    return Comlink.proxy((stage: string, done: number, total: number) => {
      if (seq !== this.seq) return;
      this.el.progress.hidden = false;
      this.el.progress.max = Math.max(total, 1);
      this.el.progress.value = done;
      const what =
        stage === "float" ? "float run" : stage === "quantized" ? "quantized run" : "isolated runs";
      this.el.status.textContent = `${what}: ${done} of ${total}`;
    });
  }

  /** Runs the model (float first when the inputs changed) and shows the report. */
  async run(): Promise<void> {
    if (!this.source) return;
    let dims: Record<string, number>;
    try {
      dims = parseDims(this.el.dims.value);
    } catch (e) {
      this.fail(messageOf(e));
      return;
    }
    const seed = Number(this.el.seed.value || 0);
    const file = this.el.inputs.files?.[0];
    const openKey = JSON.stringify({ dims, seed, file: file ? `${file.name}:${file.size}` : null });
    const request: GraphRunRequest = {
      scheme: this.el.scheme.value.trim(),
      mode: this.el.mode.value === "full" ? "full" : "weights",
      act: this.el.act.value.trim() || "ort-uint8-asym",
      exclude: [...this.excluded],
      isolated: true,
    };
    const seq = ++this.seq;
    this.el.root.dataset.state = "running";
    this.el.root.setAttribute("aria-busy", "true");
    this.el.cancel.disabled = false;
    const started = performance.now();
    try {
      const api = this.ensureWorker();
      if (this.opened !== openKey) {
        this.info = await api.graphOpen(
          this.source.source,
          this.source.fileName,
          file ? { dims, seed, inputs: { file, fileName: file.name } } : { dims, seed },
          this.progress(seq),
        );
        if (seq !== this.seq) return;
        this.opened = openKey;
        this.el.root.dataset.floatMs = (performance.now() - started).toFixed(1);
      }
      const runStarted = performance.now();
      const report = await api.graphRun(request, this.progress(seq));
      if (seq !== this.seq) return;
      this.el.root.dataset.runMs = (performance.now() - runStarted).toFixed(1);
      this.el.root.dataset.totalMs = (performance.now() - started).toFixed(1);
      this.report = report;
      this.show(report);
      this.el.root.dataset.state = "done";
      this.el.root.dataset.runs = String(Number(this.el.root.dataset.runs ?? 0) + 1);
      const inputs = (this.info?.inputs ?? []).map((i) => `${i.name} ${formatShape(i.shape)} (${i.source})`);
      this.el.status.textContent =
        `inputs: ${inputs.join("; ")} · ${report.nodes.length} node outputs · ${report.mode === "full" ? "weights and activations" : "weights"} ` +
        `quantized with ${report.scheme ?? request.scheme}` +
        (report.excluded.length ? ` · ${report.excluded.length} kept float` : "");
    } catch (e) {
      if (seq !== this.seq) return;
      // The session may be gone with a failed open: start afresh next time. After a trap
      // the worker's module is unusable (it refuses every call): end it, and the next run
      // starts a new one.
      this.opened = undefined;
      if (isCoreTrap(e)) this.stop();
      this.fail(messageOf(e));
    } finally {
      if (seq === this.seq) {
        this.el.cancel.disabled = true;
        this.el.progress.hidden = true;
        this.el.root.setAttribute("aria-busy", "false");
      }
    }
  }

  private fail(message: string): void {
    this.el.root.dataset.state = "failed";
    this.el.status.textContent = message;
  }

  private show(r: RunReport): void {
    this.el.body.hidden = false;
    this.el.report.textContent = JSON.stringify(r);
    this.drawChart(r);
    this.drawWorst(r);
    this.drawOutputs(r.outputs);
    this.el.exclude.textContent = `nodes_to_exclude=${JSON.stringify(r.nodes_to_exclude)}`;
    this.el.file.hidden = true;
    if (this.selected) this.select(this.selected);
  }

  private drawChart(r: RunReport): void {
    const rows = r.nodes.map((n, i) => ({ ...n, x: i }));
    const acc = rows.filter((n) => n.accumulated?.sqnr_db != null);
    const iso = rows.filter((n) => n.isolated?.sqnr_db != null);
    const plot = Plot.plot({
      width: Math.max(320, this.el.chart.clientWidth || 900),
      height: 300,
      marginLeft: 50,
      x: { label: "node (topological order)" },
      y: { label: "SQNR (dB)", grid: true },
      color: { legend: true, domain: ["accumulated", "isolated"], range: ["#1f77b4", "#d62728"] },
      marks: [
        Plot.line(acc, { x: "x", y: (d: NodeRow) => d.accumulated?.sqnr_db, stroke: () => "accumulated" }),
        Plot.dot(iso, { x: "x", y: (d: NodeRow) => d.isolated?.sqnr_db, fill: () => "isolated", r: 3 }),
        Plot.tip(
          rows,
          Plot.pointerX({
            x: "x",
            y: (d: NodeRow) => d.accumulated?.sqnr_db ?? 0,
            title: (d: NodeRow) =>
              `${d.node} (${d.op_type})\naccumulated ${db(d.accumulated)} dB\nisolated ${db(d.isolated)} dB`,
          }),
        ),
      ],
    });
    plot.addEventListener("click", () => {
      const v = (plot as unknown as { value?: NodeRow }).value;
      if (v) this.select(v.output);
    });
    this.el.chart.replaceChildren(plot);
  }

  private drawWorst(r: RunReport): void {
    const t = this.el.worst;
    t.replaceChildren();
    const head = t.createTHead().insertRow();
    for (const h of ["node", "op", "isolated SQNR", "accumulated SQNR", "keep float"]) {
      const th = document.createElement("th");
      th.textContent = h;
      head.appendChild(th);
    }
    const body = t.createTBody();
    // The worst by isolated damage, then the nodes kept float (so they can be put back).
    const shown = r.ranking.slice(0, WORST).map((i) => r.nodes[i]!);
    for (const n of r.nodes) if (n.excluded && !shown.includes(n)) shown.push(n);
    for (const n of shown) {
      const tr = body.insertRow();
      tr.dataset.node = n.node;
      const name = cell(tr, n.node, "name");
      name.tabIndex = 0;
      name.addEventListener("click", () => this.select(n.output));
      cell(tr, n.op_type);
      cell(tr, db(n.isolated), "num");
      cell(tr, db(n.accumulated), "num");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = n.excluded;
      box.setAttribute("aria-label", `keep ${n.node} float`);
      box.addEventListener("change", () => {
        if (box.checked) this.excluded.add(n.node);
        else this.excluded.delete(n.node);
        void this.run();
      });
      tr.insertCell().appendChild(box);
    }
  }

  private drawOutputs(outputs: OutputRow[]): void {
    const t = this.el.outputs;
    t.replaceChildren();
    const head = t.createTHead().insertRow();
    for (const h of ["output", "shape", "SQNR (dB)", "cosine", "task metric", "float", "quantized"]) {
      const th = document.createElement("th");
      th.textContent = h;
      head.appendChild(th);
    }
    const body = t.createTBody();
    for (const o of outputs) {
      const tr = body.insertRow();
      tr.dataset.output = o.name;
      cell(tr, o.name, "name");
      cell(tr, formatShape(o.shape));
      cell(tr, db(o.metrics), "num");
      cell(tr, o.metrics.cosine.toFixed(6), "num");
      cell(
        tr,
        o.top1_agreement !== null
          ? `top-1 agreement ${(o.top1_agreement * 100).toFixed(2)}%`
          : o.row_cosine !== null
            ? `embedding cosine ${o.row_cosine.toFixed(6)}`
            : "–",
      );
      cell(
        tr,
        o.float_preview
          .slice(0, 6)
          .map((v) => v.toPrecision(4))
          .join(" "),
        "values",
      );
      cell(
        tr,
        o.quantized_preview
          .slice(0, 6)
          .map((v) => v.toPrecision(4))
          .join(" "),
        "values",
      );
    }
  }

  /** Shows one node output's numbers; its weight, if it has one, in the tensor view. */
  private select(output: string): void {
    const r = this.report;
    const n = r?.nodes.find((x) => x.output === output);
    if (!r || !n) return;
    this.selected = output;
    this.el.node.dataset.node = n.node;
    const lines = [
      `${n.node} (${n.op_type}) → ${n.output} ${formatShape(n.shape)}`,
      `accumulated: SQNR ${db(n.accumulated)} dB, cosine ${n.accumulated?.cosine.toFixed(6) ?? "–"}, max |error| ${n.accumulated?.max_abs_error.toExponential(3) ?? "–"}`,
      `isolated: ${n.isolated ? `SQNR ${db(n.isolated)} dB, cosine ${n.isolated.cosine.toFixed(6)}` : n.excluded ? "kept float" : "no weight of its own"}`,
    ];
    if (n.weight)
      lines.push(`weight ${n.weight}${n.scheme ? ` (${n.scheme})` : ""}: shown in the tensor view`);
    this.el.node.textContent = lines.join("\n");
    if (n.weight) this.showWeight(n.weight);
  }

  private async download(): Promise<void> {
    if (!this.api || !this.report) return;
    try {
      const bytes = await this.api.graphExport();
      if (this.url) URL.revokeObjectURL(this.url);
      this.url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: "application/octet-stream" }));
      const base = (this.source?.fileName ?? "model").replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "");
      Object.assign(this.el.file, {
        href: this.url,
        download: `${base}.${this.report.scheme ?? "quantized"}.qdq.onnx`,
        hidden: false,
        textContent: `${base}.${this.report.scheme ?? "quantized"}.qdq.onnx (${bytes.length} bytes)`,
      });
      this.el.file.dataset.bytes = String(bytes.length);
      this.el.file.click();
    } catch (e) {
      this.fail(`Could not write the file: ${messageOf(e)}`);
    }
  }
}
