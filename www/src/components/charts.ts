// The per-tensor charts, drawn with Observable Plot (SVG): the weight histogram with
// one scheme's grid over it, the error histograms of every scheme overlaid, and the
// scales of the schemes that have several.

import * as Plot from "@observablehq/plot";
import type { Histogram, TensorReport } from "../shared/types";
import { type Chosen, NEUTRAL } from "./palette";

export interface Bin {
  x1: number;
  x2: number;
  count: number;
}

export function bins(h: Histogram): Bin[] {
  const n = h.counts.length;
  // A constant tensor (or an exact cast's zero error) has lo == hi: give the spike width.
  const span = h.hi > h.lo ? h.hi - h.lo : Math.max(Math.abs(h.lo), 1) * 1e-3;
  const w = span / Math.max(n, 1);
  return h.counts.map((count, i) => ({ x1: h.lo + i * w, x2: h.lo + (i + 1) * w, count }));
}

export function widthOf(el: HTMLElement): number {
  return Math.max(280, Math.floor(el.clientWidth || 520));
}

function colorOf(chosen: readonly Chosen[], scheme: string): string {
  return chosen.find((c) => c.scheme === scheme)?.color ?? "#555";
}

/** Tags each mark group Plot drew under `className` with its scheme, in drawing order. */
function tagLayers(root: Element, className: string, schemes: readonly string[]): void {
  root.querySelectorAll<SVGGElement>(`g.${className}`).forEach((g, i) => {
    const s = schemes[i];
    if (s !== undefined) g.dataset.scheme = s;
  });
}

/**
 * The grid buttons (#grid-toggle): which scheme's representable values are drawn over
 * the weights, or none. One grid at a time: several dense grids over each other are noise.
 */
export function renderGridToggle(
  el: HTMLElement,
  reports: readonly TensorReport[],
  chosen: readonly Chosen[],
  current: string | null,
  onPick: (scheme: string | null) => void,
): void {
  const button = (scheme: string | null, text: string, color?: string) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "toggle";
    b.dataset.grid = scheme ?? "";
    b.setAttribute("aria-pressed", String(scheme === current));
    if (color) b.style.setProperty("--chip", color);
    b.textContent = text;
    b.addEventListener("click", () => onPick(scheme));
    return b;
  };
  el.replaceChildren(
    ...reports.map((r) => button(r.scheme, r.scheme, colorOf(chosen, r.scheme))),
    button(null, "none"),
  );
}

/** Weight histogram (the tensor's, the same under every scheme) with one scheme's grid. */
export function renderWeights(
  el: HTMLElement,
  note: HTMLElement,
  reports: readonly TensorReport[],
  chosen: readonly Chosen[],
  gridScheme: string | null,
): void {
  const first = reports[0];
  if (!first) {
    el.replaceChildren();
    note.textContent = "";
    return;
  }
  const shown = reports.find((r) => r.scheme === gridScheme);
  const levels = shown?.grid.levels ?? [];
  // Dense grids (int8 has 255 levels) would hide the bars at full strength.
  const opacity = levels.length > 64 ? 0.2 : levels.length > 16 ? 0.55 : 0.9;
  const weightBins = bins(first.weights);
  const marks: Plot.Markish[] = [
    Plot.rectY(weightBins, {
      x1: "x1",
      x2: "x2",
      y: "count",
      fill: NEUTRAL,
      inset: 0.5,
      className: "weights-bars",
    }),
  ];
  if (shown) {
    marks.push(
      Plot.ruleX(levels, {
        stroke: colorOf(chosen, shown.scheme),
        strokeOpacity: opacity,
        strokeWidth: 1,
        className: "grid-levels",
      }),
    );
  }
  marks.push(Plot.ruleY([0]));
  const chart = Plot.plot({
    width: widthOf(el),
    height: 230,
    marginLeft: 52,
    x: { label: "weight value", nice: false },
    y: { label: "count", grid: true },
    marks,
  });
  el.replaceChildren(chart);
  // What the bars stand for, [x1, x2, count] per bar in drawing order (the e2e tests
  // hold it to the core's histogram, and the bars' heights to the counts).
  el.dataset.plotted = JSON.stringify(weightBins.map((b) => [b.x1, b.x2, b.count]));
  el.dataset.levels = String(levels.length);
  el.dataset.gridScheme = shown?.scheme ?? "";
  if (!shown) note.textContent = "";
  else if (levels.length === 0) note.textContent = `(${shown.scheme} reports no grid)`;
  else if (shown.grid.channel === null) note.textContent = `(${shown.scheme}: ${levels.length} levels)`;
  else {
    // With an axis the parameter sets are channels; without one, blocks or groups.
    const which =
      shown.axis === null
        ? `set ${shown.grid.channel}`
        : `channel ${shown.grid.channel} on axis ${shown.axis}`;
    note.textContent = `(${shown.scheme}: ${levels.length} levels of ${which}, the widest)`;
  }
}

/** Histograms of dequantized minus original, one step outline per scheme, with a legend. */
export function renderErrors(
  el: HTMLElement,
  reports: readonly TensorReport[],
  chosen: readonly Chosen[],
): void {
  if (reports.length === 0) {
    el.replaceChildren();
    return;
  }
  const marks: Plot.Markish[] = [];
  const schemes = reports.map((r) => r.scheme);
  for (const r of reports) {
    const b = bins(r.error);
    // A closed staircase: up at the first edge, across each bin, down at the last edge.
    const pts = [
      { x: b[0]?.x1 ?? r.error.lo, y: 0, scheme: r.scheme },
      ...b.map((d) => ({ x: d.x1, y: d.count, scheme: r.scheme })),
      { x: b.at(-1)?.x2 ?? r.error.hi, y: b.at(-1)?.count ?? 0, scheme: r.scheme },
      { x: b.at(-1)?.x2 ?? r.error.hi, y: 0, scheme: r.scheme },
    ];
    marks.push(
      Plot.areaY(pts, { x: "x", y: "y", fill: "scheme", fillOpacity: 0.12, curve: "step-after" }),
      Plot.lineY(pts, {
        x: "x",
        y: "y",
        stroke: "scheme",
        strokeWidth: 1.5,
        curve: "step-after",
        className: "error-layer",
      }),
    );
  }
  marks.push(Plot.ruleX([0], { stroke: "#555", strokeDasharray: "3,3" }), Plot.ruleY([0]));
  const chart = Plot.plot({
    width: widthOf(el),
    height: 230,
    marginLeft: 52,
    x: { label: "error", nice: false },
    // Square root: a fine scheme's tall narrow peak would flatten a coarse one's spread.
    y: { label: "count (√ scale)", type: "sqrt", grid: true },
    color: { type: "ordinal", domain: schemes, range: schemes.map((s) => colorOf(chosen, s)), legend: true },
    marks,
  });
  el.replaceChildren(chart);
  tagLayers(chart, "error-layer", schemes);
  // Each scheme's staircase as bins, [x1, x2, count] (held to the core's by the e2e tests).
  el.dataset.plotted = JSON.stringify(
    Object.fromEntries(reports.map((r) => [r.scheme, bins(r.error).map((b) => [b.x1, b.x2, b.count])])),
  );
}

/** Above this many scales a line per bucket of channels (its min to max) replaces the points. */
const MAX_SCALE_POINTS = 2048;

/**
 * Scale of every channel, group or block, one line per scheme that has more than one;
 * returns false (and draws nothing) when none has.
 */
export function renderScales(
  el: HTMLElement,
  note: HTMLElement,
  reports: readonly TensorReport[],
  chosen: readonly Chosen[],
): boolean {
  const withScales = reports.filter((r) => r.scales.length > 1);
  if (withScales.length === 0) {
    el.replaceChildren();
    note.textContent = "";
    return false;
  }
  const marks: Plot.Markish[] = [Plot.ruleY([0])];
  for (const r of withScales) {
    const color = colorOf(chosen, r.scheme);
    const n = r.scales.length;
    if (n <= MAX_SCALE_POINTS) {
      const data = r.scales.map((scale, index) => ({ index, scale }));
      marks.push(Plot.lineY(data, { x: "index", y: "scale", stroke: color, className: "scales-line" }));
      if (n <= 128) marks.push(Plot.dot(data, { x: "index", y: "scale", fill: color, r: 2 }));
    } else {
      // Thousands of group scales: draw each bucket's range, not every point.
      const per = Math.ceil(n / (MAX_SCALE_POINTS / 2));
      const data: { index: number; lo: number; hi: number }[] = [];
      for (let i = 0; i < n; i += per) {
        const slice = r.scales.slice(i, i + per);
        data.push({ index: i, lo: Math.min(...slice), hi: Math.max(...slice) });
      }
      marks.push(
        Plot.areaY(data, { x: "index", y1: "lo", y2: "hi", fill: color, fillOpacity: 0.35 }),
        Plot.lineY(data, { x: "index", y: "hi", stroke: color, className: "scales-line" }),
      );
    }
  }
  const axes = new Set(withScales.map((r) => r.axis));
  const only = axes.size === 1 ? [...axes][0] : undefined;
  const chart = Plot.plot({
    width: widthOf(el),
    height: 190,
    marginLeft: 60,
    x: { label: only !== undefined && only !== null ? `channel (axis ${only})` : "channel / group" },
    y: { label: "scale", grid: true, zero: true },
    marks,
  });
  el.replaceChildren(chart);
  tagLayers(
    chart,
    "scales-line",
    withScales.map((r) => r.scheme),
  );
  note.textContent = `(${withScales.map((r) => `${r.scheme}: ${r.scales.length}`).join(" · ")})`;
  return true;
}
