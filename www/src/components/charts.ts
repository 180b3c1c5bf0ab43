// The per-tensor charts, drawn with Observable Plot (SVG).

import * as Plot from "@observablehq/plot";
import type { Histogram, TensorReport } from "../shared/types";

const BAR = "#3b6ea5";
const GRID = "#d9480f";
const ERROR = "#7b4bb3";

interface Bin {
  x1: number;
  x2: number;
  count: number;
}

function bins(h: Histogram): Bin[] {
  const n = h.counts.length;
  // A constant tensor has lo == hi: give its single spike some width to draw.
  const span = h.hi > h.lo ? h.hi - h.lo : Math.max(Math.abs(h.lo), 1) * 1e-3;
  const w = span / Math.max(n, 1);
  return h.counts.map((count, i) => ({ x1: h.lo + i * w, x2: h.lo + (i + 1) * w, count }));
}

function widthOf(el: HTMLElement): number {
  return Math.max(280, Math.floor(el.clientWidth || 520));
}

/** Weight histogram with one vertical rule per quantization level. */
export function renderWeights(el: HTMLElement, note: HTMLElement, r: TensorReport): void {
  const levels = r.grid.levels;
  // Dense grids (int8 has 256 levels) would hide the bars at full strength.
  const opacity = levels.length > 64 ? 0.22 : levels.length > 16 ? 0.45 : 0.8;
  const chart = Plot.plot({
    width: widthOf(el),
    height: 240,
    marginLeft: 52,
    x: { label: "weight value", nice: false },
    y: { label: "count", grid: true },
    marks: [
      Plot.rectY(bins(r.weights), {
        x1: "x1",
        x2: "x2",
        y: "count",
        fill: BAR,
        inset: 0.5,
        className: "weights-bars",
      }),
      Plot.ruleX(levels, { stroke: GRID, strokeOpacity: opacity, strokeWidth: 1, className: "grid-levels" }),
      Plot.ruleY([0]),
    ],
  });
  el.replaceChildren(chart);
  el.dataset.levels = String(levels.length);
  note.textContent =
    r.grid.channel === null
      ? `(${levels.length} levels)`
      : `(${levels.length} levels of channel ${r.grid.channel} on axis ${r.axis}, the widest)`;
}

/** Histogram of dequantized minus original. */
export function renderError(el: HTMLElement, r: TensorReport): void {
  const chart = Plot.plot({
    width: widthOf(el),
    height: 200,
    marginLeft: 52,
    x: { label: "error", nice: false },
    y: { label: "count", grid: true },
    marks: [
      Plot.rectY(bins(r.error), {
        x1: "x1",
        x2: "x2",
        y: "count",
        fill: ERROR,
        inset: 0.5,
        className: "error-bars",
      }),
      Plot.ruleX([0], { stroke: "#555", strokeDasharray: "3,3" }),
      Plot.ruleY([0]),
    ],
  });
  el.replaceChildren(chart);
}

/** Scale of every channel, the widest (whose grid is drawn) marked. */
export function renderScales(el: HTMLElement, note: HTMLElement, r: TensorReport): void {
  const data = r.scales.map((scale, channel) => ({ channel, scale }));
  const marks: Plot.Markish[] = [
    Plot.lineY(data, { x: "channel", y: "scale", stroke: BAR, className: "scales-line" }),
    Plot.ruleY([0]),
  ];
  if (data.length <= 128) marks.push(Plot.dot(data, { x: "channel", y: "scale", fill: BAR, r: 2 }));
  if (r.grid.channel !== null) {
    marks.push(Plot.ruleX([r.grid.channel], { stroke: GRID, strokeDasharray: "4,3" }));
  }
  const chart = Plot.plot({
    width: widthOf(el),
    height: 180,
    marginLeft: 60,
    x: { label: `channel (axis ${r.axis})` },
    y: { label: "scale", grid: true, zero: true },
    marks,
  });
  el.replaceChildren(chart);
  note.textContent = `(${data.length} channels)`;
}
