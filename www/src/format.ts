// Human-readable text for numbers, sizes and shapes.

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

export function formatShape(shape: readonly number[]): string {
  return shape.length === 0 ? "scalar" : `[${shape.join(", ")}]`;
}

/** Three significant digits, exponent form for very small or large values. */
export function formatSci(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return "0";
  const a = Math.abs(n);
  return a < 1e-3 || a >= 1e5 ? n.toExponential(2) : n.toPrecision(3);
}

export function formatDb(n: number): string {
  if (n === Infinity) return "∞ dB (exact)";
  if (!Number.isFinite(n)) return String(n);
  return `${n.toFixed(2)} dB`;
}

export function formatCosine(n: number): string {
  return Number.isFinite(n) ? n.toFixed(6) : String(n);
}

export function formatBitsPerWeight(n: number): string {
  return n.toFixed(3);
}

/** A duration given in milliseconds: "850 ms", "3.2 s". */
export function formatSeconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
