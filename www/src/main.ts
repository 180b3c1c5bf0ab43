// The page: wires the components to the worker and keeps the state of what is shown.

import { renderBuildInfo } from "./components/buildInfo";
import { renderError, renderScales, renderWeights } from "./components/charts";
import { setupDropZone } from "./components/dropZone";
import { ErrorBanner, messageOf } from "./components/errorBanner";
import { renderMetrics } from "./components/metricsTable";
import { SchemePicker } from "./components/schemePicker";
import { SummaryTable } from "./components/summaryTable";
import { TensorList } from "./components/tensorList";
import { formatBytes, formatCount, formatShape } from "./format";
import { DEFAULT_SCHEME, DEMO_MODEL, HISTOGRAM_BINS, SCHEME_PARAM } from "./shared/meta";
import type { ModelInfo, TensorReport } from "./shared/types";
import { proxy, startWorker, transferred } from "./worker-client";

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
}

const api = startWorker();
const errors = new ErrorBanner($("error"));

let model: { info: ModelInfo; fileName: string } | undefined;
let selected: string | undefined;
let lastReport: TensorReport | undefined;
/** Bumped per analyze request so that a slow answer for an old selection is dropped. */
let analyzeSeq = 0;
/** Id of the whole-model run whose results the table shows. */
let summaryRun = 0;

const tensorList = new TensorList($<HTMLTableElement>("tensor-list"), (name) => selectTensor(name));
const picker = new SchemePicker(
  $<HTMLSelectElement>("scheme"),
  $<HTMLInputElement>("scheme-text"),
  $("scheme-error"),
  (s) => api.parseScheme(s),
  (scheme) => {
    writeSchemeToUrl(scheme);
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
cancelButton.addEventListener("click", () => void api.cancelSummary(summaryRun));
rerunButton.addEventListener("click", () => void runSummary());
setupDropZone($("drop-zone"), $<HTMLInputElement>("file-input"), (file) => void openFile(file));

function writeSchemeToUrl(scheme: string): void {
  const url = new URL(location.href);
  url.searchParams.set(SCHEME_PARAM, scheme);
  history.replaceState(null, "", url);
}

async function initialScheme(): Promise<string> {
  const asked = new URL(location.href).searchParams.get(SCHEME_PARAM);
  if (asked === null || asked.trim() === "") return DEFAULT_SCHEME;
  try {
    return await api.parseScheme(asked);
  } catch (e) {
    picker.showError(`URL scheme "${asked}": ${messageOf(e)}; using ${DEFAULT_SCHEME}`);
    return DEFAULT_SCHEME;
  }
}

async function openFile(file: File): Promise<void> {
  await openBytes(await file.arrayBuffer(), file.name);
}

async function openBytes(bytes: ArrayBuffer, fileName: string): Promise<void> {
  let info: ModelInfo;
  try {
    info = await api.open(transferred(bytes), fileName);
  } catch (e) {
    // The worker keeps the previous model open, and so does the page.
    errors.show(`Could not open ${fileName}: ${messageOf(e)}`);
    return;
  }
  errors.clear();
  model = { info, fileName };
  const name = $("model-name");
  name.textContent = `${fileName} (${info.format})`;
  // Counts successful opens, so that a test can tell a reopened file from the old one.
  name.dataset.opened = String(Number(name.dataset.opened ?? 0) + 1);
  name.dataset.format = info.format;
  $("model-stats").textContent =
    `${info.tensors.length} tensors · ${formatCount(info.total_params)} parameters · ${formatBytes(info.total_bytes)}`;
  tensorList.setTensors(info.tensors);
  selected = undefined;
  // Start on a matrix if there is one: a bias or a scalar makes a dull first chart.
  const first = info.tensors.find((t) => t.shape.length >= 2) ?? info.tensors[0];
  if (first) selectTensor(first.name);
  else clearDetail();
  void runSummary();
}

function selectTensor(name: string): void {
  if (name === selected) return;
  selected = name;
  tensorList.select(name);
  void analyze();
}

function clearDetail(): void {
  lastReport = undefined;
  $("detail-title").textContent = "No tensors in this file";
  for (const id of ["chart-weights", "chart-error", "chart-scales", "detail-sub", "grid-note"])
    $(id).replaceChildren();
  $<HTMLTableElement>("metrics").tBodies[0]?.replaceChildren();
}

async function analyze(): Promise<void> {
  if (!model || selected === undefined || picker.scheme === "") return;
  const seq = ++analyzeSeq;
  const detail = $("detail");
  detail.setAttribute("aria-busy", "true");
  try {
    const report = await api.analyze(selected, picker.scheme, HISTOGRAM_BINS);
    if (seq !== analyzeSeq) return;
    lastReport = report;
    renderReport(report);
  } catch (e) {
    if (seq === analyzeSeq) errors.show(`${selected}: ${messageOf(e)}`);
  } finally {
    if (seq === analyzeSeq) detail.setAttribute("aria-busy", "false");
  }
}

function renderReport(r: TensorReport): void {
  $("detail-title").textContent = r.tensor.name;
  $("detail").dataset.tensor = r.tensor.name;
  $("detail").dataset.scheme = r.scheme;
  const single =
    r.axis === null && r.scales.length === 1
      ? ` (scale ${r.scales[0]?.toPrecision(4)}, zero point ${r.zero_points[0] ?? 0})`
      : "";
  $("detail-sub").textContent =
    `${formatShape(r.tensor.shape)} ${r.tensor.dtype} · ${r.scheme}: ${r.describe}${single}`;
  renderWeights($("chart-weights"), $("grid-note"), r);
  renderError($("chart-error"), r);
  const scalesFigure = $("scales-figure");
  scalesFigure.hidden = r.axis === null;
  if (r.axis !== null) renderScales($("chart-scales"), $("scales-note"), r);
  else $("chart-scales").replaceChildren();
  renderMetrics($<HTMLTableElement>("metrics"), r);
}

async function runSummary(): Promise<void> {
  if (!model || picker.scheme === "") return;
  const names = model.info.tensors.map((t) => t.name);
  const run = ++summaryRun;
  const scheme = picker.scheme;
  $("summary-scheme").textContent = `under ${scheme}`;
  summary.start(names.length);
  cancelButton.disabled = false;
  rerunButton.disabled = true;
  try {
    const result = await api.summarize(
      run,
      names,
      scheme,
      proxy((done: number, total: number, rows) => {
        if (run === summaryRun) summary.add(rows, done, total);
      }),
    );
    if (run !== summaryRun) return;
    summaryRun++;
    summary.finish(result.rows, result.cancelled ? "cancelled" : "done", names.length);
  } catch (e) {
    if (run !== summaryRun) return;
    summaryRun++;
    summary.setState("failed");
    errors.show(`Whole-model summary: ${messageOf(e)}`);
  }
  cancelButton.disabled = true;
  rerunButton.disabled = false;
}

let resizeTimer: number | undefined;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(() => lastReport && renderReport(lastReport), 150);
});

async function boot(): Promise<void> {
  const build = await api.init();
  renderBuildInfo($("build-info"), build);
  picker.setPresets(await api.schemePresets());
  const scheme = await initialScheme();
  picker.set(scheme);
  writeSchemeToUrl(scheme);
  try {
    const response = await fetch(new URL(DEMO_MODEL, document.baseURI));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    await openBytes(await response.arrayBuffer(), DEMO_MODEL);
  } catch (e) {
    errors.show(`Could not load the demo model: ${messageOf(e)}. Drop a model file to start.`);
  }
}

boot().catch((e: unknown) => {
  $("build-info").textContent = "WebAssembly failed to load";
  errors.show(`Could not start the WebAssembly core: ${messageOf(e)}`);
});
