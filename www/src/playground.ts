// The playground: wires the components to the workers and keeps the state of what is
// shown (the open model, the compared schemes, the selected tensor). It runs inside a
// <quantscope-playground> element (element.ts), the app's and any embedding page's; the
// app mirrors the view in its URL, an embedded element only when asked (url-state).

import { AutoPanel } from "./components/autoPanel";
import { renderBuildInfo } from "./components/buildInfo";
import { renderErrors, renderGridToggle, renderScales, renderWeights } from "./components/charts";
import { setupDropZone } from "./components/dropZone";
import { ErrorBanner, messageOf } from "./components/errorBanner";
import { ExportPanel } from "./components/exportPanel";
import { renderModelDetails, renderTensorFacts } from "./components/modelDetails";
import { LayerPanel } from "./components/layerPanel";
import { renderMetrics, swatch } from "./components/metricsTable";
import type { Chosen } from "./components/palette";
import { SchemePicker } from "./components/schemePicker";
import { SummaryTable } from "./components/summaryTable";
import { TensorList } from "./components/tensorList";
import { TrainView } from "./components/train";
import { WholeModelPanel } from "./components/wholeModel";
import { formatBytes, formatCount, formatShape } from "./format";
import type { AnalyzeResult, BuildChoice, ModelSource, SummaryRow } from "./shared/api";
import {
  BUILD_PARAM,
  DEFAULT_MAX_WORKERS,
  HISTOGRAM_BINS,
  LEGACY_SCHEME_PARAM,
  MAX_WORKERS,
  PROGRESS_INTERVAL_MS,
  SCHEMES_PARAM,
  TENSOR_PARAM,
  WORKERS_PARAM,
} from "./shared/meta";
import { DEFAULT_SCHEMES } from "./shared/schemes";
import type { ModelInfo, TensorReport } from "./shared/types";
import type { Spawners } from "./spawn";
import { ComputeWorkers } from "./worker-client";

/** A model to open first: a URL (relative to the document) or files dropped together. */
export type FirstModel = { url: string; name: string } | { files: File[] };

export interface PlaygroundOptions {
  spawn: Spawners;
  /** The view settings, by URL parameter name (schemes, tensor, workers, build). */
  params: Record<string, string | undefined>;
  /** Mirror the view in the page's URL (history.replaceState). */
  urlState: boolean;
  model?: FirstModel | undefined;
}

export interface PlaygroundHandle {
  /** Opens files as one model; a failure shows in the playground's banner. */
  openFiles(files: File[]): Promise<void>;
  /** Fetches and opens a model; a failure shows in the playground's banner. */
  openUrl(url: string, name?: string): Promise<void>;
  /** Replaces the compared schemes. */
  setSchemes(schemes: string[]): void;
  /** Settles once the core has loaded and the first model is open (or failed to). */
  ready: Promise<void>;
  /**
   * Ends every worker the playground started and its listeners on the window (the
   * element left the page). The playground does nothing afterwards.
   */
  close(): void;
}

/** Runs the playground in `root`, which holds PLAYGROUND_HTML (template.ts). */
export function mountPlayground(root: HTMLElement, options: PlaygroundOptions): PlaygroundHandle {
  function $<T extends HTMLElement = HTMLElement>(id: string): T {
    const el = root.querySelector(`#${CSS.escape(id)}`);
    if (!el) throw new Error(`the playground is missing #${id}`);
    return el as T;
  }

  /** A view setting: the element's attribute, or the page's URL parameter under url-state. */
  function param(name: string): string | null {
    return options.params[name] ?? null;
  }

  /** Mirrors the view in the page's URL, when the element was asked to (url-state). */
  function replaceUrl(url: URL): void {
    if (options.urlState) history.replaceState(null, "", url);
  }

  /** Problems with the URL's `workers=` and `build=`, shown once the page has loaded. */
  const urlProblems: string[] = [];

  /** The most workers this machine gets: one per logical core. */
  const workerLimit = Math.min(MAX_WORKERS, Math.max(1, navigator.hardwareConcurrency || 1));

  /**
   * `?workers=N`, else one per core up to DEFAULT_MAX_WORKERS. More than this machine has
   * cores is lowered without a word: a link made on a bigger machine still opens.
   */
  function initialWorkers(): number {
    const fallback = Math.min(DEFAULT_MAX_WORKERS, workerLimit);
    const raw = param(WORKERS_PARAM);
    if (raw === null) return fallback;
    if (!/^\s*[0-9]+\s*$/.test(raw) || Number(raw) < 1) {
      urlProblems.push(`URL workers "${raw}": not a whole number of at least 1; using ${fallback}`);
      return fallback;
    }
    return Math.min(Number(raw), workerLimit);
  }

  /** `?build=simd128` loads the SIMD128 build even where relaxed SIMD runs. */
  function buildChoice(): BuildChoice {
    const raw = param(BUILD_PARAM);
    if (raw === null || raw === "auto") return "auto";
    if (raw === "simd128") return "simd128";
    urlProblems.push(
      `URL build "${raw}": expected "simd128" or "auto"; using the best build this browser runs`,
    );
    return "auto";
  }

  const workers = new ComputeWorkers(initialWorkers(), options.spawn);
  /** The worker for everything that is not whole-model work. */
  const api = workers.primary;
  const errors = new ErrorBanner($("error"));

  let model: { info: ModelInfo; fileName: string } | undefined;
  let selected: string | undefined;
  let lastResults: AnalyzeResult[] = [];
  /** Whose grid the weight chart draws; null draws none. Follows the first scheme until picked. */
  let gridScheme: string | null | undefined;
  /** Bumped per analyze request so that a slow answer for an old selection is dropped. */
  let analyzeSeq = 0;
  /** Id of the whole-model run whose results the table shows. */
  let summaryRun = 0;
  /** True while a whole-model run is under way. */
  let summaryRunning = false;
  /** Counts opens, so that an open overtaken by a later one is dropped. */
  let openSeq = 0;

  // The training lab: its own worker, independent of the open model.
  const trainView = new TrainView($("train"), options.spawn);

  const layerPanel = new LayerPanel(
    {
      root: $("layer"),
      sub: $("layer-sub"),
      form: $<HTMLFormElement>("layer-form"),
      scheme: $<HTMLInputElement>("layer-scheme"),
      suggestions: $<HTMLDataListElement>("layer-schemes"),
      compared: $("layer-compared"),
      probe: $<HTMLSelectElement>("layer-probe"),
      fileField: $("layer-file-field"),
      file: $<HTMLInputElement>("layer-file"),
      batch: $<HTMLInputElement>("layer-batch"),
      seed: $<HTMLInputElement>("layer-seed"),
      row: $<HTMLInputElement>("layer-row"),
      message: $("layer-error"),
      body: $("layer-body"),
      metrics: $<HTMLTableElement>("layer-metrics"),
      outputs: $("chart-layer-outputs"),
      outputsNote: $("layer-outputs-note"),
      error: $("chart-layer-error"),
      values: $<HTMLTableElement>("layer-values"),
      valuesNote: $("layer-values-note"),
    },
    // In the primary worker, between the whole-model tasks it may be running.
    (request) => api.layer(request),
  );
  const wholeModel = new WholeModelPanel(
    {
      root: $("whole"),
      form: $<HTMLFormElement>("whole-form"),
      scheme: $<HTMLInputElement>("whole-scheme"),
      mode: $<HTMLSelectElement>("whole-mode"),
      act: $<HTMLInputElement>("whole-act"),
      dims: $<HTMLInputElement>("whole-dims"),
      seed: $<HTMLInputElement>("whole-seed"),
      inputs: $<HTMLInputElement>("whole-inputs"),
      cancel: $<HTMLButtonElement>("whole-cancel"),
      progress: $<HTMLProgressElement>("whole-progress"),
      status: $("whole-status"),
      body: $("whole-body"),
      chart: $("chart-whole"),
      worst: $<HTMLTableElement>("whole-worst"),
      node: $("whole-node"),
      outputs: $<HTMLTableElement>("whole-outputs"),
      exclude: $("whole-exclude"),
      download: $<HTMLButtonElement>("whole-download"),
      file: $<HTMLAnchorElement>("whole-file"),
      report: $<HTMLScriptElement>("whole-report"),
    },
    buildChoice,
    options.spawn,
    (weight) => selectTensor(weight),
  );
  const autoPanel = new AutoPanel(
    {
      root: $("auto"),
      form: $<HTMLFormElement>("auto-form"),
      candidates: $<HTMLInputElement>("auto-candidates"),
      objective: $<HTMLSelectElement>("auto-objective"),
      forFormat: $<HTMLSelectElement>("auto-for"),
      inputs: $<HTMLInputElement>("auto-inputs"),
      labels: $<HTMLInputElement>("auto-labels"),
      dims: $<HTMLInputElement>("auto-dims"),
      seed: $<HTMLInputElement>("auto-seed"),
      cancel: $<HTMLButtonElement>("auto-cancel"),
      progress: $<HTMLProgressElement>("auto-progress"),
      status: $("auto-status"),
      proxy: $("auto-proxy"),
      body: $("auto-body"),
      chart: $("chart-auto"),
      bpw: $<HTMLInputElement>("auto-bpw"),
      bytes: $<HTMLInputElement>("auto-bytes"),
      summary: $("auto-summary"),
      table: $<HTMLTableElement>("auto-table"),
      check: $<HTMLButtonElement>("auto-check"),
      format: $<HTMLSelectElement>("auto-format"),
      exportRun: $<HTMLButtonElement>("auto-export"),
      file: $<HTMLAnchorElement>("auto-file"),
      policy: $<HTMLAnchorElement>("auto-policy"),
      recipes: $("auto-recipes"),
    },
    buildChoice,
    options.spawn,
  );
  const exportPanel = new ExportPanel(
    {
      root: $("export"),
      format: $<HTMLSelectElement>("export-format"),
      scheme: $<HTMLSelectElement>("export-scheme"),
      run: $<HTMLButtonElement>("export-run"),
      status: $("export-status"),
      file: $<HTMLAnchorElement>("export-file"),
      report: $<HTMLAnchorElement>("export-report"),
      notes: $<HTMLUListElement>("export-notes"),
    },
    // In the primary worker, which holds the open model like the others.
    (format, scheme) => api.exportModel(format, scheme),
  );
  const tensorList = new TensorList($<HTMLTableElement>("tensor-list"), (name) => selectTensor(name));
  /** Resolves once the workers have loaded the chosen build (see `boot`). */
  let markBooted: () => void = () => {};
  const booted = new Promise<void>((resolve) => (markBooted = resolve));
  const picker = new SchemePicker(
    {
      chips: $("scheme-chips"),
      family: $<HTMLSelectElement>("scheme-family"),
      options: $("scheme-options"),
      text: $<HTMLInputElement>("scheme-text"),
      add: $<HTMLButtonElement>("scheme-add"),
      grammar: $("scheme-help"),
      message: $("scheme-error"),
      presets: $<HTMLDataListElement>("scheme-presets"),
    },
    {
      // After the build is chosen: a call before `init` would load the default build.
      families: () => booted.then(() => api.schemeFamilies()),
      validate: (s) => api.parseScheme(s),
      toForm: (s) => api.schemeForm(s),
      fromForm: (form) => api.schemeFromForm(form),
    },
    (chosen) => {
      writeUrl();
      layerPanel.setCompared(chosen.map((c) => c.scheme));
      exportPanel.setSchemes(chosen.map((c) => c.scheme));
      summary.setSchemes(chosen);
      void analyze();
      void runSummary();
    },
  );
  const summary = new SummaryTable(
    $<HTMLTableElement>("summary"),
    $<HTMLProgressElement>("progress"),
    $("progress-text"),
    (name) => selectTensor(name),
  );
  const cancelButton = $<HTMLButtonElement>("cancel-summary");
  const rerunButton = $<HTMLButtonElement>("rerun-summary");
  cancelButton.addEventListener("click", () => workers.cancel(summaryRun));
  const workersSelect = $<HTMLSelectElement>("workers");
  workersSelect.replaceChildren(
    ...Array.from({ length: workerLimit }, (_, i) => new Option(String(i + 1), String(i + 1))),
  );
  workersSelect.value = String(workers.size);
  workersSelect.addEventListener("change", () => {
    workers.resize(Number(workersSelect.value));
    const url = new URL(location.href);
    url.searchParams.set(WORKERS_PARAM, String(workers.size));
    replaceUrl(url);
    writeUrl();
    // A run under way goes on with the new pool, from the rows it has.
    if (summaryRunning) void runSummary();
  });
  rerunButton.addEventListener("click", () => {
    summary.clearRows();
    void runSummary();
  });
  setupDropZone($("drop-zone"), $<HTMLInputElement>("file-input"), (files) => void openFiles(files));

  /** `?schemes=a,b,c&tensor=NAME`, commas left readable. */
  function writeUrl(): void {
    const url = new URL(location.href);
    url.searchParams.delete(LEGACY_SCHEME_PARAM);
    url.searchParams.delete(SCHEMES_PARAM);
    url.searchParams.delete(TENSOR_PARAM);
    const parts = [url.searchParams.toString()];
    parts.push(`${SCHEMES_PARAM}=${picker.schemes.map(encodeURIComponent).join(",")}`);
    if (selected !== undefined) parts.push(`${TENSOR_PARAM}=${encodeURIComponent(selected)}`);
    url.search = parts.filter((p) => p !== "").join("&");
    replaceUrl(url);
  }

  /**
   * The schemes the URL names (`schemes=`, or the older `scheme=`), each checked by the
   * core: a rejected one is reported and left out. None left: the defaults, of which
   * those this build of the core does not know are dropped without a word.
   */
  async function initialSchemes(): Promise<{ schemes: string[]; problems: string[] }> {
    const asked = [param(SCHEMES_PARAM), param(LEGACY_SCHEME_PARAM)]
      .flatMap((v) => (v ?? "").split(","))
      .map((s) => s.trim())
      .filter((s) => s !== "");
    const problems: string[] = [];
    const check = async (s: string, report: boolean): Promise<string | undefined> => {
      try {
        return await api.parseScheme(s);
      } catch (e) {
        if (report) problems.push(`URL scheme "${s}": ${messageOf(e)}`);
        return undefined;
      }
    };
    let schemes = (await Promise.all(asked.map((s) => check(s, true)))).filter((s) => s !== undefined);
    if (schemes.length === 0) {
      schemes = (await Promise.all(DEFAULT_SCHEMES.map((s) => check(s, false)))).filter(
        (s) => s !== undefined,
      );
      if (problems.length > 0) problems.push("showing the default schemes");
    }
    return { schemes: [...new Set(schemes)], problems };
  }

  /**
   * Opens the files given together as one model: one file, the shards of a checkpoint
   * (with their index), GGUF split files, or an ONNX model with its external data.
   */
  async function openFiles(files: File[], wantTensor?: string | null): Promise<void> {
    const label =
      files.length === 1 ? files[0].name : `${files.length} files (${files.map((f) => f.name).join(", ")})`;
    try {
      // The workers read the Files themselves, in slices: posting them copies no bytes.
      await openSource({ files: files.map((f) => ({ name: f.name, blob: f })) }, label, wantTensor);
    } catch (e) {
      // The workers keep the previous model open, and so does the page.
      errors.show(`Could not open ${label}: ${messageOf(e)}`);
    }
  }

  /** Opens a model in every worker; rejects with the core's message, or the fetch's. */
  async function openSource(
    source: ModelSource,
    fileName: string,
    wantTensor?: string | null,
  ): Promise<void> {
    const seq = ++openSeq;
    const started = performance.now();
    let info: ModelInfo;
    try {
      info = await workers.open(source, fileName);
    } catch (e) {
      if (seq === openSeq) throw e;
      return;
    }
    if (seq !== openSeq) return;
    errors.clear();
    model = { info, fileName };
    exportPanel.setModel(fileName, info.format);
    wholeModel.setModel(source, fileName, info.format);
    autoPanel.setModel(source, fileName);
    renderModelDetails(
      $<HTMLDetailsElement>("model-details"),
      $("model-graph"),
      $<HTMLTableElement>("model-meta"),
      info,
    );
    const name = $("model-name");
    name.textContent = `${fileName} (${info.format})`;
    // Counts successful opens, so that a test can tell a reopened file from the old one.
    name.dataset.opened = String(Number(name.dataset.opened ?? 0) + 1);
    name.dataset.format = info.format;
    name.dataset.lazy = String(info.lazy === true);
    // From the open request to the tensor list (scripts/bench/open.mjs reads it).
    name.dataset.openMs = (performance.now() - started).toFixed(1);
    $("model-stats").textContent =
      `${info.tensors.length} tensors · ${formatCount(info.total_params)} parameters · ${formatBytes(info.total_bytes)}` +
      (info.lazy ? " · read tensor by tensor" : "");
    tensorList.setTensors(info.tensors);
    summary.setModel(info.tensors.map((t) => t.name));
    selected = undefined;
    // The tensor the link names, else a matrix if there is one: a bias makes a dull first chart.
    const first =
      info.tensors.find((t) => t.name === wantTensor) ??
      info.tensors.find((t) => t.shape.length >= 2) ??
      info.tensors[0];
    if (first) selectTensor(first.name);
    else clearDetail();
    void runSummary();
  }

  function selectTensor(name: string): void {
    if (name === selected) return;
    selected = name;
    tensorList.select(name);
    writeUrl();
    void analyze();
    layerPanel.setTensor(model?.info.tensors.find((t) => t.name === name));
  }

  function clearDetail(): void {
    lastResults = [];
    writeUrl();
    layerPanel.setTensor(undefined);
    $("detail-title").textContent = "No tensors in this file";
    for (const id of [
      "chart-weights",
      "chart-error",
      "chart-scales",
      "detail-sub",
      "grid-note",
      "scheme-describe",
    ])
      $(id).replaceChildren();
    $<HTMLTableElement>("metrics").tHead?.replaceChildren();
    $<HTMLTableElement>("metrics").tBodies[0]?.replaceChildren();
  }

  async function analyze(): Promise<void> {
    const schemes = picker.schemes;
    if (!model || selected === undefined || schemes.length === 0) return;
    const seq = ++analyzeSeq;
    const detail = $("detail");
    detail.setAttribute("aria-busy", "true");
    try {
      const results = await api.analyzeMany(selected, schemes, HISTOGRAM_BINS);
      if (seq !== analyzeSeq) return;
      lastResults = results;
      renderResults(results);
    } catch (e) {
      if (seq === analyzeSeq) errors.show(`${selected}: ${messageOf(e)}`);
    } finally {
      if (seq === analyzeSeq) detail.setAttribute("aria-busy", "false");
    }
  }

  /**
   * The ggml block types the core can quantize to, by the name GGUF gives them: the
   * choices of the core's `ggml` scheme family (one list, `GgmlType::QUANTIZABLE`).
   */
  const requantizable: Promise<Set<string>> = booted
    .then(() => api.schemeFamilies())
    .then((families) => {
      const type = families.find((f) => f.id === "ggml")?.options.find((o) => o.key === "type");
      return new Set(type?.type === "enum" ? type.choices.map((c) => c.value.toUpperCase()) : []);
    });

  /**
   * A tensor stored in a ggml block format (a GGUF file) is analysed as its
   * dequantization: say so, and offer its own type as a scheme, which shows what
   * re-quantizing costs beside the alternatives.
   */
  async function renderStoredNote(dtype: string | undefined): Promise<void> {
    const note = $("stored-note");
    const block = dtype !== undefined && /^Q\d/.test(dtype);
    note.dataset.stored = block ? dtype : "";
    if (!block) {
      note.hidden = true;
      return note.replaceChildren();
    }
    const quantizable = (await requantizable).has(dtype);
    // Another tensor was selected meanwhile: its call draws the note.
    if (note.dataset.stored !== dtype) return;
    note.hidden = false;
    const text = `Stored in the file as ${dtype}: the values shown are its dequantization, as llama.cpp computes with them.`;
    if (!quantizable) {
      note.replaceChildren(`${text} quantscope reads ${dtype} but cannot quantize to it.`);
      return;
    }
    const scheme = dtype.toLowerCase();
    const compared = picker.schemes.includes(scheme);
    const button = document.createElement("button");
    button.type = "button";
    button.id = "stored-compare";
    button.textContent = compared ? `${scheme} is compared` : `Compare with ${scheme}`;
    button.disabled = compared;
    button.addEventListener("click", () => picker.add(scheme));
    note.replaceChildren(`${text} `, button);
  }

  function renderResults(results: AnalyzeResult[]): void {
    const chosen: readonly Chosen[] = picker.colors;
    const reports: TensorReport[] = results.flatMap((r) => ("report" in r ? [r.report] : []));
    const detail = $("detail");
    const tensor = reports[0]?.tensor;
    detail.dataset.tensor = selected ?? "";
    detail.dataset.schemes = results.map((r) => r.scheme).join(",");
    $("detail-title").textContent = selected ?? "";
    $("detail-sub").textContent = tensor
      ? `${formatShape(tensor.shape)} ${tensor.dtype} · ${formatCount(tensor.numel)} values`
      : "";

    void renderStoredNote(tensor?.dtype);
    renderTensorFacts($("tensor-facts"), model?.info, selected);

    $("scheme-describe").replaceChildren(
      ...results.map((r) => {
        const li = document.createElement("li");
        li.dataset.scheme = r.scheme;
        const name = document.createElement("code");
        name.textContent = r.scheme;
        const color = chosen.find((c) => c.scheme === r.scheme)?.color ?? "#555";
        if ("report" in r) {
          const rep = r.report;
          const single =
            rep.axis === null && rep.scales.length === 1
              ? ` (scale ${rep.scales[0]?.toPrecision(4)}${rep.zero_points.length ? `, zero point ${rep.zero_points[0]}` : ""})`
              : "";
          li.append(swatch(color), name, ` ${rep.describe}${single}`);
          if (rep.note) {
            const note = document.createElement("span");
            note.className = "scheme-note";
            note.textContent = ` (${rep.note})`;
            li.append(note);
          }
        } else {
          li.classList.add("failed");
          li.append(swatch(color), name, ` ${r.error}`);
        }
        return li;
      }),
    );

    if (gridScheme !== null && !reports.some((r) => r.scheme === gridScheme)) gridScheme = undefined;
    const grid = gridScheme === undefined ? (reports[0]?.scheme ?? null) : gridScheme;
    renderGridToggle($("grid-toggle"), reports, chosen, grid, (s) => {
      gridScheme = s;
      renderResults(lastResults);
    });
    renderWeights($("chart-weights"), $("grid-note"), reports, chosen, grid);
    renderErrors($("chart-error"), reports, chosen);
    $("scales-figure").hidden = !renderScales($("chart-scales"), $("scales-note"), reports, chosen);
    renderMetrics($<HTMLTableElement>("metrics"), results, chosen);
  }

  /**
   * Fills the whole-model table: every tensor × scheme row it lacks (so that adding a
   * scheme computes only that scheme), spread over the worker pool. A newer run (or
   * Cancel) ends this one.
   */
  async function runSummary(): Promise<void> {
    if (!model) return;
    const run = ++summaryRun;
    // Tensor by tensor, every scheme of a tensor in a row: a worker reads a tensor from
    // the file once and keeps it for the next scheme (scheme by scheme, every task read
    // its tensor again: the 96 MiB pool benchmark took 3.5 times as long).
    const missing = picker.schemes.map((scheme) => ({ scheme, names: new Set(summary.missing(scheme)) }));
    const tasks = model.info.tensors.flatMap((t) =>
      missing.filter((m) => m.names.has(t.name)).map(({ scheme }) => ({ name: t.name, scheme })),
    );
    $("summary-scheme").textContent =
      `${picker.schemes.length} scheme${picker.schemes.length === 1 ? "" : "s"}`;
    if (tasks.length === 0) {
      summaryRunning = false;
      summary.setState("done");
      cancelButton.disabled = true;
      rerunButton.disabled = false;
      return;
    }
    summaryRunning = true;
    summary.setState("running");
    cancelButton.disabled = false;
    rerunButton.disabled = true;
    const table = $("summary");
    table.dataset.workers = String(workers.size);
    // Rows each worker has delivered: lets a test see that the pool shares the work.
    const perWorker = new Array<number>(workers.size).fill(0);
    table.dataset.rowsPerWorker = perWorker.join(",");
    // Rows reach the table at most every PROGRESS_INTERVAL_MS however many workers report:
    // each update lays out and repaints the page on its main thread, which shares the
    // cores with the workers (with a flush per report, 2 workers ran no faster than 1:
    // scripts/bench/pool.mjs, docs/BENCHMARKS.md).
    let pending: SummaryRow[] = [];
    let flushTimer: number | undefined;
    const flush = (): void => {
      clearTimeout(flushTimer);
      flushTimer = undefined;
      if (run !== summaryRun) return;
      table.dataset.rowsPerWorker = perWorker.join(",");
      summary.add(pending);
      pending = [];
    };
    const numel = new Map(model.info.tensors.map((t) => [t.name, t.numel]));
    const started = performance.now();
    let state: "done" | "cancelled" | "failed" = "done";
    try {
      const result = await workers.summarize(
        run,
        tasks,
        (t) => numel.get(t.name) ?? 1,
        (rows, worker) => {
          if (run !== summaryRun) return;
          perWorker[worker] = (perWorker[worker] ?? 0) + rows.length;
          pending.push(...rows);
          flushTimer ??= window.setTimeout(flush, PROGRESS_INTERVAL_MS);
        },
      );
      flush();
      if (run !== summaryRun) return;
      summary.add(result.rows);
      if (result.cancelled) state = "cancelled";
    } catch (e) {
      flush();
      if (run !== summaryRun) return;
      state = "failed";
      errors.show(`Whole-model summary: ${messageOf(e)}`);
    }
    if (run !== summaryRun) return;
    summaryRun++;
    summaryRunning = false;
    summary.setState(state, performance.now() - started);
    cancelButton.disabled = true;
    rerunButton.disabled = false;
  }

  let resizeTimer: number | undefined;
  const onResize = () => {
    clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(() => {
      if (lastResults.length > 0) renderResults(lastResults);
      layerPanel.redraw();
    }, 150);
  };
  window.addEventListener("resize", onResize);

  async function boot(): Promise<void> {
    renderBuildInfo($("build-info"), await workers.init(buildChoice()));
    markBooted();
    picker.setPresets(await api.schemePresets());
    const { schemes, problems } = await initialSchemes();
    picker.set(schemes);
    exportPanel.setSchemes(picker.schemes);
    layerPanel.setCompared(picker.schemes);
    if (problems.length > 0) picker.showError(problems.join("; "));
    summary.setSchemes(picker.colors);
    const wantTensor = param(TENSOR_PARAM);
    writeUrl();
    const shown = [...urlProblems];
    const first = options.model;
    if (first && "url" in first) {
      try {
        // Each worker fetches it itself.
        await openSource({ url: new URL(first.url, document.baseURI).href }, first.name, wantTensor);
      } catch (e) {
        shown.unshift(`Could not load ${first.name}: ${messageOf(e)}. Drop a model file to start.`);
      }
    } else if (first) {
      await openFiles(first.files, wantTensor);
    }
    if (shown.length > 0) errors.show(shown.join("; "));
  }

  const started = boot().catch((e: unknown) => {
    $("build-info").textContent = "WebAssembly failed to load";
    errors.show(`Could not start the WebAssembly core: ${messageOf(e)}`);
  });

  return {
    async openFiles(files) {
      await started;
      await openFiles(files);
    },
    async openUrl(url, name) {
      await started;
      try {
        await openSource({ url: new URL(url, document.baseURI).href }, name ?? url);
      } catch (e) {
        errors.show(`Could not open ${name ?? url}: ${messageOf(e)}`);
      }
    },
    setSchemes(schemes) {
      void started.then(() => picker.set(schemes));
    },
    ready: started,
    close() {
      window.removeEventListener("resize", onResize);
      clearTimeout(resizeTimer);
      workers.close();
      wholeModel.close();
      autoPanel.close();
      trainView.close();
    },
  };
}
