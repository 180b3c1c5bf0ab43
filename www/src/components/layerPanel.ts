// The layer panel (#layer): the selected weight used as a linear layer, y = W x, for a
// batch of probe inputs, once in float and once through the int8 GEMM with the chosen
// weight scheme. Shows the output metrics over the batch, one probe row's float and int8
// outputs side by side, the histogram of output errors, and that row's numbers. The
// work is the worker's (`WorkerApi.layer`); a request the core refuses shows its message.

import * as Plot from "@observablehq/plot";
import { formatCosine, formatCount, formatDb, formatSci, formatShape } from "../format";
import type { LayerRequest } from "../shared/api";
import {
  LAYER_AUTO_MACS,
  LAYER_DEFAULT_BATCH,
  LAYER_DEFAULT_SCHEME,
  LAYER_MAX_BARS,
  LAYER_MAX_BATCH,
  LAYER_SCHEMES,
} from "../shared/meta";
import type { LayerReport, TensorInfo } from "../shared/types";
import { bins, widthOf } from "./charts";
import { messageOf } from "./errorBanner";

export interface LayerElements {
  root: HTMLElement;
  sub: HTMLElement;
  form: HTMLFormElement;
  scheme: HTMLInputElement;
  suggestions: HTMLDataListElement;
  /** Buttons that take one of the compared schemes. */
  compared: HTMLElement;
  probe: HTMLSelectElement;
  fileField: HTMLElement;
  file: HTMLInputElement;
  batch: HTMLInputElement;
  seed: HTMLInputElement;
  row: HTMLInputElement;
  message: HTMLElement;
  body: HTMLElement;
  metrics: HTMLTableElement;
  outputs: HTMLElement;
  outputsNote: HTMLElement;
  error: HTMLElement;
  values: HTMLTableElement;
  valuesNote: HTMLElement;
}

/** Colours of the two paths: grey for the reference, the grid's orange for int8. */
const FLOAT_COLOR = "#7b8794";
const INT8_COLOR = "#d9480f";

const METRICS: {
  key: keyof LayerReport["metrics"];
  label: string;
  text: (n: number) => string;
  help: string;
}[] = [
  { key: "sqnr_db", label: "Output SQNR", text: formatDb, help: "float output power over error power" },
  { key: "cosine", label: "Cosine", text: formatCosine, help: "cosine of float and int8 outputs" },
  { key: "max_abs_error", label: "Max |error|", text: formatSci, help: "largest |int8 − float| output" },
  { key: "mse", label: "MSE", text: formatSci, help: "mean squared output error" },
];

const U32_MAX = 2 ** 32 - 1;

/** Where a run stands: data-state on the panel, for people (styles) and tests alike. */
type State = "idle" | "running" | "done" | "failed";

export class LayerPanel {
  private tensor: TensorInfo | undefined;
  private report: LayerReport | undefined;
  /** Bumped per run, so that a late answer for an older request is dropped. */
  private seq = 0;
  /** The request under way, to skip the same one twice (Enter fires change and submit). */
  private inFlight: string | undefined;
  /** Counts chosen input files, so that choosing another file is another request. */
  private fileId = 0;
  /** Runs answered (a report or the core's message): data-runs, so a test can wait for the next. */
  private answered = 0;

  constructor(
    private readonly el: LayerElements,
    private readonly run: (request: LayerRequest) => Promise<LayerReport>,
  ) {
    el.scheme.value = LAYER_DEFAULT_SCHEME;
    el.batch.value = String(LAYER_DEFAULT_BATCH);
    el.batch.max = String(LAYER_MAX_BATCH);
    el.seed.max = String(U32_MAX);
    el.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.update();
    });
    el.scheme.addEventListener("input", () => el.scheme.removeAttribute("aria-invalid"));
    for (const input of [el.scheme, el.seed, el.row])
      input.addEventListener("change", () => void this.update());
    el.batch.addEventListener("change", () => {
      // A smaller batch takes the row shown along with it.
      const batch = Number(el.batch.value);
      if (Number.isInteger(batch) && batch >= 1 && Number(el.row.value) >= batch)
        el.row.value = String(batch - 1);
      void this.update();
    });
    el.probe.addEventListener("change", () => {
      this.showProbeFields();
      void this.update();
    });
    el.file.addEventListener("change", () => {
      this.fileId++;
      void this.update();
    });
    this.showProbeFields();
    this.setCompared([]);
    this.setState("idle");
  }

  /**
   * The selected tensor; a weight of two or more axes runs at once, unless the run
   * would be long (then Run, or any change of the fields, starts it).
   */
  setTensor(tensor: TensorInfo | undefined): void {
    this.tensor = tensor;
    this.report = undefined;
    this.el.root.dataset.tensor = tensor?.name ?? "";
    if (!tensor) {
      this.el.sub.textContent = "No tensor selected";
      this.clear("idle");
      return;
    }
    if (tensor.shape.length < 2) {
      this.el.sub.textContent = `${tensor.name} ${formatShape(tensor.shape)} is not a layer weight: select a 2-D weight or a conv kernel.`;
      this.clear("idle");
      return;
    }
    const rows = this.el.probe.value === "npy" ? 1 : Number(this.el.batch.value) || 1;
    const macs = tensor.numel * rows;
    if (macs > LAYER_AUTO_MACS) {
      this.el.sub.textContent =
        `${tensor.name} ${formatShape(tensor.shape)}: ${formatCount(macs)} multiply-adds per path ` +
        `for ${rows} probe rows. Press Run to compute them.`;
      this.clear("idle");
      return;
    }
    void this.update();
  }

  /** The compared schemes: offered as buttons and in the field's suggestions. */
  setCompared(schemes: readonly string[]): void {
    const all = [...new Set([...schemes, ...LAYER_SCHEMES])];
    this.el.suggestions.replaceChildren(...all.map((s) => new Option(s, s)));
    this.el.compared.replaceChildren(
      ...schemes.map((s) => {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "toggle";
        b.dataset.layerScheme = s;
        b.textContent = s;
        b.title = `Run the layer with ${s} weights`;
        b.addEventListener("click", () => {
          this.el.scheme.value = s;
          this.el.scheme.removeAttribute("aria-invalid");
          void this.update();
        });
        return b;
      }),
    );
    this.markCompared();
  }

  /** Draws the charts again at the panel's current width. */
  redraw(): void {
    if (this.report) this.renderCharts(this.report);
  }

  private markCompared(): void {
    for (const b of this.el.compared.querySelectorAll<HTMLButtonElement>("button[data-layer-scheme]"))
      b.setAttribute("aria-pressed", String(b.dataset.layerScheme === this.el.scheme.value.trim()));
  }

  private showProbeFields(): void {
    const file = this.el.probe.value === "npy";
    this.el.fileField.hidden = !file;
    // A file brings its own rows; the seed draws nothing from it.
    this.el.batch.disabled = file;
    this.el.seed.disabled = file;
  }

  private setState(state: State): void {
    this.el.root.dataset.state = state;
    this.el.root.setAttribute("aria-busy", String(state === "running"));
  }

  private clear(state: State): void {
    this.seq++;
    this.inFlight = undefined;
    this.report = undefined;
    this.el.body.hidden = true;
    this.el.message.textContent = "";
    this.setState(state);
  }

  private fail(message: string, state: State = "failed"): void {
    this.clear(state);
    this.el.message.textContent = message;
  }

  /** A whole number for the core's u32 parameters, or a message naming the field. */
  private whole(input: HTMLInputElement, name: string): number | string {
    const raw = input.value.trim();
    const n = Number(raw);
    if (raw === "" || !Number.isInteger(n) || n < 0 || n > U32_MAX)
      return `${name} "${input.value}": expected a whole number from 0 to ${U32_MAX}`;
    return n;
  }

  private request(): LayerRequest | string {
    const t = this.tensor;
    if (!t) return "no tensor selected";
    const scheme = this.el.scheme.value.trim();
    if (scheme === "") return "weight scheme: enter a scheme string";
    const row = this.whole(this.el.row, "row");
    if (typeof row === "string") return row;
    if (this.el.probe.value === "npy") {
      const file = this.el.file.files?.[0];
      if (!file) return "choose an .npy file of inputs: [batch, inputs] or [inputs] values";
      return { tensor: t.name, scheme, probe: { kind: "npy", file, fileName: file.name }, row };
    }
    const kind = this.el.probe.value === "uniform" ? "uniform" : "gaussian";
    const batch = this.whole(this.el.batch, "batch");
    if (typeof batch === "string") return batch;
    const seed = this.whole(this.el.seed, "seed");
    if (typeof seed === "string") return seed;
    return { tensor: t.name, scheme, probe: { kind, batch, seed }, row };
  }

  private async update(): Promise<void> {
    const t = this.tensor;
    if (!t || t.shape.length < 2) return;
    this.markCompared();
    const req = this.request();
    const root = this.el.root;
    root.dataset.scheme = this.el.scheme.value.trim();
    if (typeof req === "string") {
      this.fail(req, "idle");
      return;
    }
    const key = JSON.stringify([req.tensor, req.scheme, req.row, { ...req.probe, file: this.fileId }]);
    if (key === this.inFlight) return;
    const seq = ++this.seq;
    this.inFlight = key;
    this.setState("running");
    try {
      const report = await this.run(req);
      if (seq !== this.seq) return;
      this.report = report;
      this.el.message.textContent = "";
      this.el.scheme.removeAttribute("aria-invalid");
      // The core's canonical spelling of what was typed.
      this.el.scheme.value = report.scheme;
      this.markCompared();
      this.render(report);
      root.dataset.scheme = report.scheme;
      root.dataset.probe = req.probe.kind;
      root.dataset.batch = String(report.batch);
      root.dataset.seed = String(report.seed);
      root.dataset.row = String(report.shown_row);
      this.el.row.max = String(Math.max(0, report.batch - 1));
      this.setState("done");
      root.dataset.runs = String(++this.answered);
    } catch (e) {
      if (seq !== this.seq) return;
      const message = messageOf(e);
      this.fail(message);
      if (message.startsWith("scheme `")) this.el.scheme.setAttribute("aria-invalid", "true");
      else this.el.scheme.removeAttribute("aria-invalid");
      root.dataset.runs = String(++this.answered);
    } finally {
      if (seq === this.seq) this.inFlight = undefined;
    }
  }

  private render(r: LayerReport): void {
    const flat = r.shape.length > 2 ? ` (${formatShape(r.shape)} flattened)` : "";
    const probe = r.probe.startsWith("data ")
      ? `${r.batch} row${r.batch === 1 ? "" : "s"} of ${r.probe.slice(5)}`
      : `${r.batch} ${r.probe === "gaussian" ? "Gaussian N(0, 1)" : "uniform U[−1, 1)"} row${r.batch === 1 ? "" : "s"}, seed ${r.seed}`;
    this.el.sub.textContent =
      `${r.tensor} as a layer: ${r.n} outputs × ${r.k} inputs${flat} · weights ${r.scheme}, ` +
      `activations int8 per row (${r.activations === "asym8" ? "with a zero point" : r.activations}) · ${probe}`;
    this.el.body.hidden = false;
    this.renderMetrics(r);
    this.renderValues(r);
    this.renderCharts(r);
  }

  private renderMetrics(r: LayerReport): void {
    const body = this.el.metrics.tBodies[0] ?? this.el.metrics.createTBody();
    body.replaceChildren(
      ...METRICS.map((m) => {
        const tr = document.createElement("tr");
        const th = document.createElement("th");
        th.scope = "row";
        th.textContent = m.label;
        th.title = m.help;
        const td = document.createElement("td");
        td.className = "num";
        td.dataset.metric = m.key;
        // JSON has no Infinity: exact outputs come back with a null SQNR.
        const v = r.metrics[m.key] ?? Infinity;
        td.dataset.value = String(v);
        td.textContent = m.text(v);
        tr.append(th, td);
        return tr;
      }),
    );
  }

  private renderValues(r: LayerReport): void {
    const shown = r.float_out.length;
    this.el.valuesNote.textContent = `(row ${r.shown_row}${shown < r.n ? `, the first ${shown} of ${r.n} outputs` : ""})`;
    const body = this.el.values.tBodies[0] ?? this.el.values.createTBody();
    const cell = (key: string, v: number, text: string): HTMLTableCellElement => {
      const td = document.createElement("td");
      td.className = "num";
      td.dataset.key = key;
      td.dataset.value = String(v);
      td.textContent = text;
      return td;
    };
    body.replaceChildren(
      ...r.float_out.map((f, i) => {
        const q = r.int8_out[i] ?? NaN;
        const tr = document.createElement("tr");
        tr.append(
          cell("output", i, String(i)),
          cell("float", f, f.toPrecision(6)),
          cell("int8", q, q.toPrecision(6)),
          cell("error", q - f, formatSci(q - f)),
        );
        return tr;
      }),
    );
  }

  private renderCharts(r: LayerReport): void {
    const shown = r.float_out.length;
    const points = r.float_out.flatMap((f, i) => [
      { i, path: "float", v: f, other: r.int8_out[i] ?? NaN },
      { i, path: "int8", v: r.int8_out[i] ?? NaN, other: f },
    ]);
    const floats = points.filter((p) => p.path === "float");
    const int8s = points.filter((p) => p.path === "int8");
    const title = (p: (typeof points)[number]) =>
      p.path === "float"
        ? `output ${p.i}\nfloat ${p.v.toPrecision(6)}\nint8 ${p.other.toPrecision(6)}`
        : `output ${p.i}\nint8 ${p.v.toPrecision(6)}\nfloat ${p.other.toPrecision(6)}`;
    const bars = shown <= LAYER_MAX_BARS;
    const marks: Plot.Markish[] = bars
      ? [
          Plot.rectY(floats, {
            x1: (p) => p.i - 0.4,
            x2: (p) => p.i,
            y: "v",
            fill: "path",
            title,
            className: "layer-float",
          }),
          Plot.rectY(int8s, {
            x1: (p) => p.i,
            x2: (p) => p.i + 0.4,
            y: "v",
            fill: "path",
            title,
            className: "layer-int8",
          }),
        ]
      : [
          // A wide pale float line under a thin int8 one: where they part, the error shows.
          Plot.lineY(floats, {
            x: "i",
            y: "v",
            stroke: "path",
            strokeWidth: 3,
            strokeOpacity: 0.55,
            className: "layer-float",
          }),
          Plot.lineY(int8s, { x: "i", y: "v", stroke: "path", strokeWidth: 1.2, className: "layer-int8" }),
          Plot.tip(floats, Plot.pointerX({ x: "i", y: "v", title })),
        ];
    marks.push(Plot.ruleY([0]));
    const outputs = Plot.plot({
      width: widthOf(this.el.outputs),
      height: 250,
      marginLeft: 52,
      x: {
        label: `output (row ${r.shown_row})`,
        nice: false,
        ...(bars ? { domain: [-0.6, shown - 0.4] } : {}),
      },
      y: { label: "value", grid: true },
      color: { type: "ordinal", domain: ["float", "int8"], range: [FLOAT_COLOR, INT8_COLOR], legend: true },
      marks,
    });
    // The two paths differ by far less than the outputs' size: their difference per
    // output, on its own scale under the outputs, shows which outputs int8 gets wrong.
    const diffs = floats.map((p) => ({ i: p.i, d: p.other - p.v }));
    const span = Math.max(...diffs.map((d) => Math.abs(d.d)), 1e-12);
    const diff = Plot.plot({
      width: widthOf(this.el.outputs),
      height: 110,
      marginLeft: 52,
      x: { label: null, nice: false, ...(bars ? { domain: [-0.6, shown - 0.4] } : {}) },
      // Symmetric about zero, so that the sign of each error reads at a glance.
      y: { label: "int8 − float", grid: true, ticks: 4, tickFormat: "~g", domain: [-span, span] },
      marks: [
        Plot.ruleX(diffs, {
          x: "i",
          y1: 0,
          y2: "d",
          stroke: INT8_COLOR,
          strokeWidth: bars ? 3 : 1.5,
          className: "layer-diff",
        }),
        Plot.ruleY([0]),
      ],
    });
    this.el.outputs.replaceChildren(outputs, diff);
    this.el.outputs.dataset.style = bars ? "bars" : "lines";
    this.el.outputs.dataset.outputs = String(shown);
    this.el.outputsNote.textContent = `(${bars ? "paired bars" : "lines"}, row ${r.shown_row}${shown < r.n ? `, first ${shown} of ${r.n}` : ""})`;

    const e = r.error;
    const errors = Plot.plot({
      width: widthOf(this.el.error),
      height: 200,
      marginLeft: 52,
      x: { label: "int8 − float output", nice: false },
      y: { label: "count", grid: true },
      marks: [
        Plot.rectY(bins(e), {
          x1: "x1",
          x2: "x2",
          y: "count",
          fill: INT8_COLOR,
          inset: 0.5,
          className: "layer-error-bars",
        }),
        Plot.ruleX([0], { stroke: "#555", strokeDasharray: "3,3" }),
        Plot.ruleY([0]),
      ],
    });
    this.el.error.replaceChildren(errors);
    this.el.error.dataset.lo = String(e.lo);
    this.el.error.dataset.hi = String(e.hi);
    this.el.error.dataset.counts = e.counts.join(",");
  }
}
