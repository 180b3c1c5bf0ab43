// The "Automatic mix" panel (#auto): the best scheme per tensor under a size budget
// (src/auto/ in a worker of its own). Measuring asks the worker for each tensor's
// candidates in turn (a cancel ends the worker); then the front comes back once, and the
// budget control picks the mix from it in the page, with no call into the worker: the
// chart, the per-tensor table and the totals follow the budget instantly. "Measure this
// mix" runs the model once with the whole mix (the summed isolated damages are only an
// estimate); the exports go through the core's writers.

import type { Spawners } from "../spawn";
import * as Plot from "@observablehq/plot";
import * as Comlink from "comlink";
import { formatBytes, formatShape } from "../format";
import type { AutoOpened, AutoReport, Mix, Objective } from "../shared/auto";
import { budgetBytes, chooseIndex, mixRows } from "../shared/auto";
import type { BuildChoice, ExportFormat, ModelSource, WorkerApi } from "../shared/api";
import { messageOf } from "./errorBanner";
import { parseDims } from "./wholeModel";

export interface AutoElements {
  root: HTMLElement;
  form: HTMLFormElement;
  candidates: HTMLInputElement;
  objective: HTMLSelectElement;
  /** The format the search keeps to (empty: any). */
  forFormat: HTMLSelectElement;
  inputs: HTMLInputElement;
  labels: HTMLInputElement;
  dims: HTMLInputElement;
  seed: HTMLInputElement;
  cancel: HTMLButtonElement;
  progress: HTMLProgressElement;
  status: HTMLElement;
  proxy: HTMLElement;
  body: HTMLElement;
  chart: HTMLElement;
  bpw: HTMLInputElement;
  bytes: HTMLInputElement;
  summary: HTMLElement;
  table: HTMLTableElement;
  check: HTMLButtonElement;
  format: HTMLSelectElement;
  exportRun: HTMLButtonElement;
  file: HTMLAnchorElement;
  policy: HTMLAnchorElement;
  recipes: HTMLElement;
}

function value(objective: Objective, v: number | null | undefined): string {
  if (v === undefined) return "–";
  if (v === null) return "exact";
  return objective === "accuracy" ? `${v.toFixed(2)}%` : `${v.toFixed(2)} dB`;
}

export class AutoPanel {
  private worker: Worker | undefined;
  private api: Comlink.Remote<WorkerApi> | undefined;
  private source: { source: ModelSource; fileName: string } | undefined;
  private report: AutoReport | undefined;
  /** The choice the budget picks (option index per tensor), -1 for none. */
  private index = -1;
  private measured = new Map<string, Mix>();
  private seq = 0;
  private urls: string[] = [];
  /** Calls into the search worker (the e2e test holds budget moves to none). */
  private calls = 0;

  constructor(
    private readonly el: AutoElements,
    private readonly build: () => BuildChoice,
    private readonly spawn: Spawners,
  ) {
    el.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.run();
    });
    el.cancel.addEventListener("click", () => this.cancel());
    el.bpw.addEventListener("input", () => {
      if (!this.report) return;
      el.bytes.value = String(budgetBytes(Number(el.bpw.value), this.report.weights));
      this.pick();
    });
    el.bytes.addEventListener("input", () => {
      if (!this.report) return;
      el.bpw.value = ((8 * Number(el.bytes.value)) / this.report.weights).toFixed(3);
      this.pick();
    });
    el.check.addEventListener("click", () => void this.check());
    el.exportRun.addEventListener("click", () => void this.exportMix());
  }

  /** A newly opened model: any model the core reads (the weights objective needs no graph). */
  setModel(source: ModelSource, fileName: string): void {
    this.stop();
    this.source = { source, fileName };
    this.el.root.hidden = false;
    this.report = undefined;
    this.el.body.hidden = true;
    this.el.status.textContent = "";
    delete this.el.root.dataset.state;
  }

  /** Ends the panel's worker for good (the playground left the page). */
  close(): void {
    this.stop();
  }

  private stop(): void {
    this.worker?.terminate();
    this.worker = undefined;
    this.api = undefined;
    this.seq++;
  }

  private cancel(): void {
    this.stop();
    this.el.root.dataset.state = "cancelled";
    this.el.status.textContent = "Cancelled.";
    this.el.cancel.disabled = true;
    this.el.progress.hidden = true;
  }

  private call<T>(f: (api: Comlink.Remote<WorkerApi>) => Promise<T>): Promise<T> {
    if (!this.api) {
      this.worker = this.spawn.compute("quantscope-auto");
      this.api = Comlink.wrap<WorkerApi>(this.worker);
      void this.api.init(this.build());
    }
    this.calls++;
    this.el.root.dataset.calls = String(this.calls);
    return f(this.api);
  }

  private async refreshMeasurements(): Promise<void> {
    this.el.root.dataset.measurements = String(await this.call((a) => a.autoMeasurements()));
  }

  /** Opens the model in the search worker, measures every tensor, shows the front. */
  async run(): Promise<void> {
    if (!this.source) return;
    let dims: Record<string, number>;
    try {
      dims = parseDims(this.el.dims.value);
    } catch (e) {
      this.fail(messageOf(e));
      return;
    }
    this.stop();
    const seq = ++this.seq;
    const file = this.el.inputs.files?.[0];
    const labels = this.el.labels.value.trim() || undefined;
    const objective = this.el.objective.value as Objective;
    this.el.root.dataset.state = "running";
    this.el.root.setAttribute("aria-busy", "true");
    this.el.cancel.disabled = false;
    this.el.progress.hidden = false;
    this.el.status.textContent = "Running the model float…";
    const started = performance.now();
    try {
      const opened: AutoOpened = await this.call((a) =>
        a.autoOpen(this.source!.source, this.source!.fileName, {
          dims,
          seed: Number(this.el.seed.value || 0),
          inputs: file ? { file, fileName: file.name } : undefined,
          labels,
        }),
      );
      if (seq !== this.seq) return;
      if (!this.el.candidates.value.trim()) this.el.candidates.value = opened.defaultCandidates.join(",");
      if (!opened.runnable && objective !== "weights") {
        throw new Error(
          `the model cannot run (${opened.unrunnable}); choose the weights objective (a proxy)`,
        );
      }
      const forFormat = this.el.forFormat.value;
      const n = await this.call((a) => a.autoBegin(this.el.candidates.value, objective, forFormat));
      if (forFormat !== "") this.el.format.value = forFormat;
      const measureStarted = performance.now();
      for (let i = 0; i < n; i++) {
        if (seq !== this.seq) return;
        this.el.progress.max = n;
        this.el.progress.value = i;
        const name = await this.call((a) => a.autoMeasure(i));
        this.el.status.textContent = `measured ${i + 1} of ${n} tensors (${name})`;
      }
      const report = await this.call((a) => a.autoFinish());
      if (seq !== this.seq) return;
      this.el.root.dataset.sensitivityMs = (performance.now() - measureStarted).toFixed(1);
      this.el.root.dataset.totalMs = (performance.now() - started).toFixed(1);
      this.report = report;
      this.measured.clear();
      for (const u of report.uniform) this.measured.set(u.mix.choice.join(","), u.mix);
      this.el.proxy.hidden = report.objective !== "weights";
      this.el.bpw.min = String(Math.max(0.5, Math.floor(report.front[0]?.bpw ?? 1)));
      this.el.bpw.max = String(Math.ceil(report.front[report.front.length - 1]?.bpw ?? 32));
      if (!this.el.bpw.value || Number(this.el.bpw.value) > Number(this.el.bpw.max))
        this.el.bpw.value = "4.5";
      this.el.bytes.value = String(budgetBytes(Number(this.el.bpw.value), report.weights));
      this.el.body.hidden = false;
      this.pick();
      await this.refreshMeasurements();
      this.el.root.dataset.state = "done";
      this.el.status.textContent =
        `${report.tensors} tensors, ${report.sensitivity_measurements} isolated measurements; ` +
        `front of ${report.front.length} mixes; objective: ${report.label}`;
    } catch (e) {
      if (seq !== this.seq) return;
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
    this.el.root.dataset.state = "error";
    this.el.status.textContent = message;
  }

  /** The mix under the budget, from the front alone: no worker call. */
  private pick(): void {
    const r = this.report;
    if (!r) return;
    const budget = Number(this.el.bytes.value);
    this.index = chooseIndex(r.front, budget);
    const choice = this.index >= 0 ? r.front_choices[this.index]! : undefined;
    const rows = choice ? mixRows(r.sensitivity, choice) : [];
    this.el.root.dataset.choice = JSON.stringify(rows.map((t) => t.scheme));
    this.el.root.dataset.budgetBytes = String(budget);
    this.renderChart(choice);
    this.renderTable(rows);
    if (!choice) {
      this.el.summary.textContent = `No mix fits ${formatBytes(budget)}: the smallest is ${formatBytes(r.front[0]?.bytes ?? 0)}.`;
      this.el.check.disabled = true;
      this.el.exportRun.disabled = true;
      return;
    }
    this.el.check.disabled = false;
    this.el.exportRun.disabled = false;
    const p = r.front[this.index]!;
    const m = this.measured.get(choice.join(","));
    const best = r.uniform
      .filter((u) => u.mix.bytes <= budget)
      .sort((a, b) => (b.mix.measured ?? Infinity) - (a.mix.measured ?? Infinity))[0];
    this.el.summary.textContent =
      `${formatBytes(p.bytes)} (${p.bpw.toFixed(3)} bpw) · estimated ${value(r.objective, p.estimated)} ` +
      `(sum of isolated damages) · measured ${m ? value(r.objective, m.measured) : "– (press Measure this mix)"}` +
      (best
        ? ` · best uniform within the budget: ${best.candidate}, ${value(r.objective, best.mix.measured)}`
        : "");
  }

  private renderChart(choice: number[] | undefined): void {
    const r = this.report!;
    const num = (v: number | null) => (v === null ? NaN : v);
    const front = r.front.map((p) => ({ bpw: p.bpw, value: num(p.estimated) }));
    const uniform = r.uniform.map((u) => ({
      bpw: u.mix.bpw,
      value: num(u.mix.measured ?? u.mix.estimated),
      name: u.candidate,
    }));
    const chosen = choice
      ? [{ bpw: r.front[this.index]!.bpw, value: num(r.front[this.index]!.estimated) }]
      : [];
    const budget = Number(this.el.bpw.value);
    this.el.chart.replaceChildren(
      Plot.plot({
        width: Math.max(360, this.el.chart.clientWidth || 640),
        height: 300,
        x: { label: "bits per weight →", grid: true },
        y: { label: `↑ ${r.objective === "accuracy" ? "accuracy (%)" : "SQNR (dB)"}`, grid: true },
        marks: [
          Plot.line(front, { x: "bpw", y: "value", curve: "step-after", stroke: "#4269d0" }),
          Plot.dot(front, { x: "bpw", y: "value", r: 1.5, fill: "#4269d0" }),
          Plot.dot(uniform, { x: "bpw", y: "value", r: 4, fill: "#ff725c", tip: true }),
          Plot.text(uniform, { x: "bpw", y: "value", text: "name", dy: -9, fontSize: 10 }),
          Plot.dot(chosen, { x: "bpw", y: "value", r: 6, stroke: "black", strokeWidth: 2 }),
          Plot.ruleX([budget], { stroke: "#888", strokeDasharray: "4,3" }),
        ],
      }),
    );
  }

  private renderTable(rows: ReturnType<typeof mixRows>): void {
    const t = this.el.table;
    t.replaceChildren();
    const head = t.createTHead().insertRow();
    for (const h of ["tensor", "shape", "scheme", "bytes", "bpw", "isolated damage"]) {
      const th = document.createElement("th");
      th.textContent = h;
      head.append(th);
    }
    const body = t.createTBody();
    for (const row of rows) {
      const tr = body.insertRow();
      tr.dataset.tensor = row.name;
      for (const v of [
        row.name,
        formatShape(row.shape),
        row.scheme,
        String(row.bytes),
        row.bpw.toFixed(3),
        row.damage.toExponential(3),
      ]) {
        tr.insertCell().textContent = v;
      }
    }
  }

  private choice(): number[] | undefined {
    return this.report && this.index >= 0 ? this.report.front_choices[this.index] : undefined;
  }

  /** Runs the model once with the whole mix. */
  private async check(): Promise<void> {
    const choice = this.choice();
    if (!choice) return;
    this.el.check.disabled = true;
    try {
      const mix = await this.call((a) => a.autoCheck(choice));
      this.measured.set(choice.join(","), mix);
      await this.refreshMeasurements();
      this.pick();
    } catch (e) {
      this.fail(messageOf(e));
    } finally {
      this.el.check.disabled = false;
    }
  }

  private async exportMix(): Promise<void> {
    const choice = this.choice();
    if (!choice || !this.source) return;
    const format = this.el.format.value as ExportFormat;
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
    try {
      const [file, policy, recipes] = await Promise.all([
        this.call((a) => a.autoExport(format, choice)),
        this.call((a) => a.autoPolicy(choice)),
        this.call((a) => a.autoRecipes(choice)),
      ]);
      const base = this.source.fileName.replace(/\.[^.]*$/, "");
      const link = (a: HTMLAnchorElement, blob: Blob, name: string) => {
        const url = URL.createObjectURL(blob);
        this.urls.push(url);
        a.href = url;
        a.download = name;
        a.hidden = false;
      };
      link(this.el.file, new Blob([file.bytes as BlobPart]), `${base}.mix.${format}`);
      this.el.file.textContent = `${base}.mix.${format} (${formatBytes(file.bytes.length)})`;
      link(this.el.policy, new Blob([policy], { type: "application/json" }), `${base}.policy.json`);
      this.el.recipes.textContent =
        `# llama.cpp: llama-quantize ... plus\n${recipes.llama_cpp.join("\n")}\n\n` +
        `# ONNX Runtime\n${recipes.onnxruntime.python}`;
      this.el.root.dataset.exported = format;
    } catch (e) {
      this.fail(messageOf(e));
    }
  }
}
