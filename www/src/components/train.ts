// The "Train" view: trains a small model on the built-in digits (or a user's .npz) in
// its own worker, then quantizes it by each chosen method (PTQ, QAT, LSQ, KD, QAT+KD),
// drawing every method's loss and test accuracy live on one chart, and showing the
// results table and the trained layers' weight histograms with their grids.

import * as Plot from "@observablehq/plot";
import * as Comlink from "comlink";
import { formatBytes } from "../format";
import {
  DEFAULT_TRAIN,
  type EpochPoint,
  type Method,
  METHOD_LABELS,
  METHODS,
  type TrainApi,
  type TrainConfig,
  type TrainResult,
} from "../shared/train";
import { renderWeights, widthOf } from "./charts";
import { isCoreTrap } from "../shared/api";
import { messageOf } from "./errorBanner";
import type { Spawners } from "../spawn";
import { SCHEME_COLORS } from "./palette";

/** How long the training worker warms up when the lab first comes into view (see TrainApi.warmUp). */
const WARM_UP_MS = 1500;

const COLORS: Record<string, string> = {
  float: "#555",
  ptq: SCHEME_COLORS[0] ?? "#4e79a7",
  qat: SCHEME_COLORS[1] ?? "#f28e2b",
  lsq: SCHEME_COLORS[2] ?? "#59a14f",
  kd: SCHEME_COLORS[3] ?? "#e15759",
  "qat-kd": SCHEME_COLORS[4] ?? "#9c6ab3",
};

interface CurveRow {
  method: string;
  /** Epochs since the start of the float phase (the methods continue from it). */
  x: number;
  metric: "test accuracy (%)" | "loss";
  value: number;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & { dataset?: Record<string, string> } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(e, rest);
  if (dataset) Object.assign(e.dataset, dataset);
  e.append(...children);
  return e;
}

function field(label: string, input: HTMLElement): HTMLLabelElement {
  return el("label", { className: "train-field" }, el("span", {}, label), input);
}

function numberInput(id: string, value: number, min: number, max: number, step: number): HTMLInputElement {
  return el("input", {
    id,
    type: "number",
    value: String(value),
    min: String(min),
    max: String(max),
    step: String(step),
  });
}

function select(id: string, options: [string, string][], value: string): HTMLSelectElement {
  const s = el("select", { id });
  for (const [v, text] of options) s.append(el("option", { value: v, textContent: text }));
  s.value = value;
  return s;
}

export class TrainView {
  private api: Comlink.Remote<TrainApi>;
  private worker: Worker;
  /** The data last chosen, set again in a replacement worker. */
  private lastData: Parameters<TrainApi["setData"]>[0] | undefined;
  private readonly status: HTMLElement;
  private readonly error: HTMLElement;
  private readonly dataInfo: HTMLElement;
  private readonly progress: HTMLProgressElement;
  private readonly runButton: HTMLButtonElement;
  private readonly cancelButton: HTMLButtonElement;
  private readonly chart: HTMLElement;
  private readonly table: HTMLTableSectionElement;
  private readonly histograms: HTMLElement;
  private readonly histPick: HTMLSelectElement;
  private readonly exportRow: HTMLElement;
  private readonly inputs: Record<string, HTMLInputElement | HTMLSelectElement> = {};
  private readonly methodBoxes = new Map<Method, HTMLInputElement>();
  private curve: CurveRow[] = [];
  private results: TrainResult[] = [];
  private running = false;
  private cancelled = false;
  private dataReady: Promise<unknown>;
  private readonly resizes: ResizeObserver;
  private readonly seen: IntersectionObserver;

  constructor(
    root: HTMLElement,
    private readonly spawn: Spawners,
  ) {
    this.worker = spawn.train();
    this.api = Comlink.wrap<TrainApi>(this.worker);
    const d = DEFAULT_TRAIN;
    const i = this.inputs;
    i.model = select(
      "train-model",
      [
        ["mlp", "MLP (features-128-64-classes)"],
        ["cnn", "CNN (2 conv 3x3, pool, linear)"],
      ],
      d.model,
    );
    i.wbits = select(
      "train-wbits",
      [2, 3, 4, 5, 6, 7, 8].map((b) => [String(b), `${b}`]),
      String(d.wbits),
    );
    i.abits = select(
      "train-abits",
      [
        ["4", "4"],
        ["5", "5"],
        ["6", "6"],
        ["7", "7"],
        ["8", "8"],
        ["float", "float"],
      ],
      String(d.abits ?? "float"),
    );
    i.perChannel = el("input", { id: "train-per-channel", type: "checkbox", checked: d.per_channel });
    i.epochs = numberInput("train-epochs", d.epochs, 1, 1000, 1);
    i.lr = numberInput("train-lr", d.lr, 1e-6, 1, 1e-4);
    i.floatEpochs = numberInput("train-float-epochs", d.float_epochs, 1, 1000, 1);
    i.floatLr = numberInput("train-float-lr", d.float_lr, 1e-6, 1, 1e-4);
    i.kdT = numberInput("train-kd-t", d.kd_t, 0.1, 100, 0.5);
    i.kdAlpha = numberInput("train-kd-alpha", d.kd_alpha, 0, 1, 0.05);
    i.seed = numberInput("train-seed", d.seed, 0, 2 ** 31, 1);
    i.ptqRange = select(
      "train-ptq-range",
      [
        ["minmax", "min-max"],
        ["mse", "MSE"],
      ],
      d.ptq_range,
    );

    const methods = el("fieldset", { className: "train-methods" }, el("legend", {}, "Methods"));
    for (const m of METHODS) {
      const box = el("input", { type: "checkbox", checked: m !== "lsq", value: m, dataset: { method: m } });
      this.methodBoxes.set(m, box);
      methods.append(el("label", { className: "chip-check" }, box, ` ${METHOD_LABELS[m]}`));
    }

    const builtin = el("input", {
      type: "radio",
      name: "train-data",
      id: "train-data-builtin",
      checked: true,
    });
    const own = el("input", { type: "radio", name: "train-data", id: "train-data-own" });
    const file = el("input", { type: "file", id: "train-file", accept: ".npz" });
    this.dataInfo = el("span", { id: "train-data-info", className: "muted" });
    this.error = el("p", { id: "train-error", className: "field-error", role: "alert" });
    this.status = el("span", { id: "train-status", className: "muted", ariaLive: "polite" });
    this.progress = el("progress", { id: "train-progress", max: 1, value: 0 });
    this.runButton = el("button", {
      id: "train-run",
      type: "button",
      className: "primary",
      textContent: "Train",
    });
    this.cancelButton = el("button", {
      id: "train-cancel",
      type: "button",
      textContent: "Cancel",
      disabled: true,
    });
    this.chart = el("div", { id: "train-chart", className: "chart-body" });
    this.table = el("tbody", { id: "train-results" });
    this.histPick = el("select", { id: "train-hist-pick" });
    this.histograms = el("div", { id: "train-histograms", className: "train-histograms" });
    this.exportRow = el("div", { id: "train-export", className: "train-export" });

    root.replaceChildren(
      el("h2", { id: "train-title" }, "Train: PTQ vs QAT vs distillation"),
      el(
        "p",
        { className: "muted" },
        "A small model trained in float, then quantized by each method at the chosen bits. " +
          "Built-in data: scikit-learn's digits (1,797 8x8 images, BSD-3-Clause), split 80/20 with seed 0. " +
          "Your .npz needs x_train, y_train, x_test, y_test: numeric x of shape (n, features), (n, h, w) or (n, c, h, w), " +
          "at most 4,096 values per sample and 100,000 samples, finite; y whole numbers 0..999, one per sample.",
      ),
      el(
        "div",
        { className: "train-data" },
        el("label", {}, builtin, " digits"),
        el("label", {}, own, " my .npz "),
        file,
        this.dataInfo,
      ),
      el(
        "div",
        { className: "train-controls" },
        field("model", i.model),
        field("weight bits", i.wbits),
        field("activation bits", i.abits),
        field("per channel", i.perChannel),
        field("epochs", i.epochs),
        field("learning rate", i.lr),
        field("float epochs", i.floatEpochs),
        field("float learning rate", i.floatLr),
        field("KD temperature T", i.kdT),
        field("KD weight a", i.kdAlpha),
        field("PTQ range", i.ptqRange),
        field("seed", i.seed),
      ),
      methods,
      el(
        "div",
        { className: "train-actions" },
        this.runButton,
        this.cancelButton,
        this.progress,
        this.status,
      ),
      this.error,
      el(
        "figure",
        { className: "chart" },
        el("figcaption", {}, "Test accuracy and training loss per epoch"),
        this.chart,
      ),
      el(
        "table",
        { className: "data-table train-table", id: "train-table" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ...["method", "bits", "test accuracy", "vs float", "size", "weights", "inputs"].map((h) =>
              el("th", { scope: "col" }, h),
            ),
          ),
        ),
        this.table,
      ),
      this.exportRow,
      el(
        "figure",
        { className: "chart" },
        el("figcaption", {}, "Trained weights with their quantization grid ", this.histPick),
        this.histograms,
      ),
    );

    this.dataReady = this.useData({ builtin: true, url: spawn.digitsUrl() });
    builtin.addEventListener("change", () => {
      this.dataReady = this.useData({ builtin: true, url: spawn.digitsUrl() });
    });
    const pickFile = () => {
      const f = file.files?.[0];
      if (!f) return;
      own.checked = true;
      this.dataReady = this.useData({ file: f, name: f.name });
    };
    file.addEventListener("change", pickFile);
    own.addEventListener("change", pickFile);
    this.runButton.addEventListener("click", () => void this.run());
    this.cancelButton.addEventListener("click", () => {
      this.cancelled = true;
      void this.api.cancel();
    });
    this.histPick.addEventListener("change", () => this.drawHistograms());
    this.resizes = new ResizeObserver(() => {
      this.drawChart();
      this.drawHistograms();
    });
    this.resizes.observe(root);
    // The first time the lab comes into view, the worker runs about 1.5 s of throwaway
    // epochs so that V8 has optimized the training code before the user's first run
    // (TrainApi.warmUp; docs/BENCHMARKS.md measures both). Not at page load: the
    // analysis workers have the cores then.
    this.seen = new IntersectionObserver((entries) => {
      if (!entries.some((e) => e.isIntersecting)) return;
      this.seen.disconnect();
      void this.dataReady
        .then(() => this.api.warmUp(WARM_UP_MS))
        .then((n) => (root.dataset.warmEpochs = String(n)))
        .catch(() => {});
    });
    this.seen.observe(root);
  }

  /** Ends the training worker for good (the playground left the page). */
  close(): void {
    this.resizes.disconnect();
    this.seen.disconnect();
    this.worker.terminate();
  }

  /**
   * After a trap the worker's module is unusable: a fresh worker takes its place (with
   * the same data), so the next run works; the message says what trapped.
   */
  private async replaceWorkerAfter(e: unknown): Promise<void> {
    if (!isCoreTrap(e)) return;
    this.worker.terminate();
    this.worker = this.spawn.train();
    this.api = Comlink.wrap<TrainApi>(this.worker);
    this.error.textContent = `${messageOf(e)}; the training worker was restarted`;
    if (this.lastData) {
      const keep = this.error.textContent;
      await this.useData(this.lastData);
      if (!this.error.textContent) this.error.textContent = keep;
    }
  }

  private async useData(data: Parameters<TrainApi["setData"]>[0]): Promise<void> {
    this.error.textContent = "";
    try {
      const info = await this.api.setData(data);
      this.lastData = data;
      const name = "builtin" in data ? "digits" : data.name;
      this.dataInfo.textContent =
        `${name}: ${info.n_train} training and ${info.n_test} test samples of shape (${info.sample_shape.join(", ")}), ` +
        `${info.classes} classes${info.images ? "" : " (not images: MLP only)"}`;
      this.dataInfo.dataset.ready = "true";
    } catch (e) {
      this.dataInfo.dataset.ready = "false";
      this.error.textContent = `Data refused: ${messageOf(e)}`;
      if (isCoreTrap(e)) await this.replaceWorkerAfter(e);
    }
  }

  private config(method: Method): TrainConfig {
    const i = this.inputs;
    const num = (k: string) => Number((i[k] as HTMLInputElement).value);
    const abits = (i.abits as HTMLSelectElement).value;
    return {
      model: (i.model as HTMLSelectElement).value as TrainConfig["model"],
      method,
      wbits: num("wbits"),
      abits: abits === "float" ? null : Number(abits),
      per_channel: (i.perChannel as HTMLInputElement).checked,
      ptq_range: (i.ptqRange as HTMLSelectElement).value as TrainConfig["ptq_range"],
      kd_t: num("kdT"),
      kd_alpha: num("kdAlpha"),
      epochs: Math.round(num("epochs")),
      lr: num("lr"),
      float_epochs: Math.round(num("floatEpochs")),
      float_lr: num("floatLr"),
      batch: DEFAULT_TRAIN.batch,
      seed: Math.round(num("seed")),
    };
  }

  private async run(): Promise<void> {
    if (this.running) return;
    await this.dataReady;
    if (this.dataInfo.dataset.ready !== "true") return;
    const methods = METHODS.filter((m) => this.methodBoxes.get(m)?.checked);
    if (methods.length === 0) {
      this.error.textContent = "Choose at least one method.";
      return;
    }
    this.running = true;
    this.cancelled = false;
    this.runButton.disabled = true;
    this.cancelButton.disabled = false;
    this.error.textContent = "";
    this.curve = [];
    this.results = [];
    this.table.replaceChildren();
    this.exportRow.replaceChildren();
    await this.api.forgetRuns();
    this.root().dataset.state = "running";
    const floatEpochs = this.config("float").float_epochs;
    const perMethod = (m: Method) => (m === "ptq" ? 0 : this.config(m).epochs);
    const total = floatEpochs + methods.reduce((a, m) => a + perMethod(m), 0);
    let before = 0;
    try {
      for (const [k, m] of methods.entries()) {
        const cfg = this.config(m);
        const onEpoch = (p: EpochPoint) => {
          const isFloat = p.phase === "float";
          // The float phase is drawn once, under "float"; each method continues from it.
          if (isFloat && k > 0) return;
          const x = isFloat ? p.epoch : floatEpochs + p.epoch;
          const method = isFloat ? "float" : p.phase;
          this.curve.push({ method, x, metric: "test accuracy (%)", value: p.test_accuracy });
          this.curve.push({ method, x, metric: "loss", value: p.loss });
          const done = isFloat ? p.epoch : floatEpochs + before + p.epoch;
          this.progress.value = done / Math.max(total, 1);
          this.status.textContent = `${METHOD_LABELS[m]}: ${isFloat ? "float" : METHOD_LABELS[m]} epoch ${p.epoch}/${p.epochs}, test accuracy ${p.test_accuracy.toFixed(2)} %`;
          this.drawChart();
        };
        const r = await this.api.run(cfg, Comlink.proxy(onEpoch));
        if (!r || this.cancelled) {
          this.status.textContent = `cancelled during ${METHOD_LABELS[m]}`;
          this.root().dataset.state = "cancelled";
          return;
        }
        if (r.config.method === "ptq" && !this.curve.some((c) => c.method === "ptq")) {
          // PTQ trains nothing: one point after the float phase.
          this.curve.push({ method: "ptq", x: floatEpochs, metric: "test accuracy (%)", value: r.accuracy });
          this.drawChart();
        }
        before += perMethod(m);
        this.results.push(r);
        this.addRow(r, k === 0);
        this.refreshHistPick();
        this.showExport(r);
      }
      this.progress.value = 1;
      this.status.textContent = "done";
      this.root().dataset.state = "done";
    } catch (e) {
      this.error.textContent = messageOf(e);
      this.root().dataset.state = "error";
      await this.replaceWorkerAfter(e);
    } finally {
      this.running = false;
      this.runButton.disabled = false;
      this.cancelButton.disabled = true;
    }
  }

  private root(): HTMLElement {
    return this.runButton.closest("section") ?? document.body;
  }

  private addRow(r: TrainResult, withFloat: boolean): void {
    const td = (t: string) => el("td", {}, t);
    const bits = `W${r.config.wbits}A${r.config.abits ?? "float"}${r.config.per_channel ? " ch" : ""}`;
    if (withFloat) {
      this.table.append(
        el(
          "tr",
          { dataset: { method: "float", accuracy: String(r.float_accuracy) } },
          td("float"),
          td("f32"),
          td(`${r.float_accuracy.toFixed(2)} %`),
          td(""),
          td(formatBytes(r.float_bytes)),
          td("f32"),
          td("f32"),
        ),
      );
    }
    const delta = r.accuracy - r.float_accuracy;
    this.table.append(
      el(
        "tr",
        { dataset: { method: r.config.method, accuracy: String(r.accuracy) } },
        td(METHOD_LABELS[r.config.method]),
        td(bits),
        td(`${r.accuracy.toFixed(2)} %`),
        td(`${delta >= 0 ? "+" : ""}${delta.toFixed(2)}`),
        td(formatBytes(r.bytes)),
        td(r.weight_scheme ?? "learned steps (LSQ)"),
        td(r.activation_scheme ?? "float"),
      ),
    );
  }

  private showExport(r: TrainResult): void {
    this.exportRow.replaceChildren();
    if (r.config.method === "lsq") {
      this.exportRow.append(el("span", { className: "muted" }, r.notes.join(" ")));
      return;
    }
    for (const f of ["onnx", "safetensors"] as const) {
      const b = el("button", {
        type: "button",
        textContent: `Download ${METHOD_LABELS[r.config.method]} .${f}`,
        dataset: { format: f },
      });
      b.addEventListener("click", async () => {
        try {
          if (r.run_id === undefined) throw new Error("this run has no model to export");
          const bytes = await this.api.exportRun(r.run_id, f);
          const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
          const a = el("a", {
            href: url,
            download: `digits-${r.config.model}-${r.config.method}-w${r.config.wbits}.${f}`,
          });
          a.click();
          setTimeout(() => URL.revokeObjectURL(url), 1000);
        } catch (e) {
          this.error.textContent = messageOf(e);
        }
      });
      this.exportRow.append(b);
    }
  }

  private refreshHistPick(): void {
    const keep = this.histPick.value;
    this.histPick.replaceChildren();
    for (const [k, r] of this.results.entries()) {
      for (const l of r.layers) {
        const v = `${k}:${l.tensor.name}`;
        this.histPick.append(
          el("option", { value: v, textContent: `${METHOD_LABELS[r.config.method]} ${l.tensor.name}` }),
        );
      }
    }
    if ([...this.histPick.options].some((o) => o.value === keep)) this.histPick.value = keep;
    this.drawHistograms();
  }

  private drawHistograms(): void {
    const [k, name] = this.histPick.value.split(":");
    const r = this.results[Number(k)];
    const report = r?.layers.find((l) => l.tensor.name === name);
    if (!r || !report) {
      this.histograms.replaceChildren();
      return;
    }
    const chart = el("div", { className: "chart-body" });
    const note = el("span", { className: "muted" });
    this.histograms.replaceChildren(chart, note);
    const color = COLORS[r.config.method] ?? "#555";
    renderWeights(chart, note, [report], [{ scheme: report.scheme, color }], report.scheme);
  }

  private drawChart(): void {
    if (this.curve.length === 0) {
      this.chart.replaceChildren();
      return;
    }
    const methods = [...new Set(this.curve.map((c) => c.method))];
    // One chart, two quantities: accuracy on the left axis (0-100), loss dashed on the
    // right axis, scaled so that its largest value reaches the top.
    const maxLoss = Math.max(1e-6, ...this.curve.filter((c) => c.metric === "loss").map((c) => c.value));
    const k = 100 / maxLoss;
    const step = maxLoss / 5;
    const lossTicks = Array.from({ length: 6 }, (_, j) => j * step);
    const acc = this.curve.filter((c) => c.metric !== "loss");
    const loss = this.curve.filter((c) => c.metric === "loss").map((c) => ({ ...c, value: c.value * k }));
    const chart = Plot.plot({
      width: widthOf(this.chart),
      height: 320,
      marginLeft: 52,
      marginRight: 52,
      x: { label: "epoch (float, then each method from the float model)" },
      y: { grid: true, label: "test accuracy (%)", domain: [0, 100] },
      color: { domain: methods, range: methods.map((m) => COLORS[m] ?? "#555"), legend: true },
      marks: [
        Plot.axisY({ anchor: "left", label: "test accuracy (%)" }),
        Plot.axisY(lossTicks, {
          anchor: "right",
          y: (d: number) => d * k,
          tickFormat: (d: number) => d.toFixed(2),
          label: "loss (dashed)",
        }),
        Plot.lineY(acc, { x: "x", y: "value", stroke: "method", marker: "dot", className: "acc-line" }),
        Plot.lineY(loss, {
          x: "x",
          y: "value",
          stroke: "method",
          strokeDasharray: "4,3",
          className: "loss-line",
        }),
        Plot.ruleY([0]),
      ],
    });
    this.chart.replaceChildren(chart);
    this.chart.dataset.points = String(this.curve.length);
  }
}
