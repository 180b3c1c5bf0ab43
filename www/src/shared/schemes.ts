// Scheme families, their options and defaults: builds canonical scheme strings from
// parameters and parses strings back, mirroring docs/SCHEMES.md. The core's parser
// stays the authority: the page validates every string built here through the worker
// and shows the core's canonical form (or its message) rather than trusting this file.

/** A parameter value: enums are strings, optional numbers are null when left to the core. */
export type ParamValue = string | number | boolean | null;
export type Params = Record<string, ParamValue>;

interface OptionBase {
  key: string;
  label: string;
  /** Shown as a tooltip. */
  help?: string;
  /** Whether the option applies given the other values (hidden when it does not). */
  show?: (p: Params) => boolean;
}

export interface EnumOption extends OptionBase {
  type: "enum";
  choices: readonly { value: string; label: string }[];
  default: string;
}

export interface NumberOption extends OptionBase {
  type: "number";
  min: number;
  max: number;
  step: number;
  /** Null: the field may stay empty, and the string then leaves the value to the core. */
  default: number | null;
}

export interface BoolOption extends OptionBase {
  type: "bool";
  default: boolean;
}

export type SchemeOption = EnumOption | NumberOption | BoolOption;

export interface SchemeFamily {
  id: string;
  label: string;
  /** The grammar line of docs/SCHEMES.md. */
  grammar: string;
  options: readonly SchemeOption[];
  build(p: Params): string;
  /** Parameters of a string of this family, or null when the string is not one. */
  parse(s: string): Params | null;
}

const choices = (...values: string[]) => values.map((value) => ({ value, label: value }));
const str = (p: Params, k: string): string => String(p[k] ?? "");
const num = (p: Params, k: string): number | null => {
  const v = p[k];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
};
/** A number as the grammar writes it: no exponent, no trailing zeros. */
const fmt = (n: number): string => String(Number(n.toPrecision(12)));
const int = (s: string | undefined): number | null => (s === undefined ? null : Number(s));

// --- linear -----------------------------------------------------------------------
// `{int|uint}<bits>-{sym|asym}[-<granularity>][-<range>][-<rounding>]`

const LINEAR_OPTIONS: SchemeOption[] = [
  {
    key: "signed",
    label: "codes",
    type: "enum",
    choices: [
      { value: "int", label: "signed (int)" },
      { value: "uint", label: "unsigned (uint)" },
    ],
    default: "int",
  },
  {
    key: "bits",
    label: "bits",
    type: "enum",
    choices: choices("2", "3", "4", "5", "6", "7", "8", "16"),
    default: "8",
  },
  {
    key: "mode",
    label: "range",
    type: "enum",
    choices: [
      { value: "sym", label: "symmetric" },
      { value: "asym", label: "asymmetric (zero point)" },
    ],
    default: "sym",
  },
  {
    key: "granularity",
    label: "granularity",
    type: "enum",
    choices: [
      { value: "tensor", label: "per tensor" },
      { value: "ch", label: "per channel" },
      { value: "group", label: "per group" },
    ],
    default: "tensor",
  },
  {
    key: "axis",
    label: "axis",
    type: "number",
    min: 0,
    max: 7,
    step: 1,
    default: 0,
    help: "the axis the channels run along",
    show: (p) => p.granularity === "ch",
  },
  {
    key: "group",
    label: "group size",
    type: "number",
    min: 1,
    max: 65536,
    step: 1,
    default: 128,
    show: (p) => p.granularity === "group",
  },
  {
    key: "groupAxis",
    label: "group axis",
    type: "number",
    min: 0,
    max: 7,
    step: 1,
    default: null,
    help: "empty: the last axis",
    show: (p) => p.granularity === "group",
  },
  {
    key: "estimator",
    label: "clipping",
    type: "enum",
    choices: [
      { value: "minmax", label: "min-max" },
      { value: "pct", label: "percentile" },
      { value: "mse", label: "MSE-optimal" },
      { value: "kl", label: "entropy (KL)" },
    ],
    default: "minmax",
  },
  {
    key: "percentile",
    label: "percentile",
    type: "number",
    min: 50,
    max: 100,
    step: 0.001,
    default: 99.999,
    show: (p) => p.estimator === "pct",
  },
  {
    key: "rounding",
    label: "rounding",
    type: "enum",
    choices: [
      { value: "rne", label: "half to even" },
      { value: "rna", label: "half away from zero" },
      { value: "sr", label: "stochastic" },
    ],
    default: "rne",
  },
  {
    key: "seed",
    label: "seed",
    type: "number",
    min: 0,
    max: 2 ** 32 - 1,
    step: 1,
    default: 0,
    show: (p) => p.rounding === "sr",
  },
];

const LINEAR_RE =
  /^(int|uint)(\d+)(?:-(sym|asym))?(?:-(tensor|ch(\d*)|group(\d+)(?:-ax(\d+))?))?(?:-(minmax|pct([\d.]+)|mse|kl))?(?:-(rne|rna|sr(\d+)))?$/;

function buildLinear(p: Params, withMode = true): string {
  let s = `${str(p, "signed")}${str(p, "bits")}`;
  if (withMode) s += `-${str(p, "mode")}`;
  const g = str(p, "granularity");
  if (g === "ch") s += `-ch${num(p, "axis") ?? 0}`;
  else if (g === "group") {
    s += `-group${num(p, "group") ?? 128}`;
    const ax = num(p, "groupAxis");
    if (ax !== null) s += `-ax${ax}`;
  }
  const e = str(p, "estimator");
  if (e === "pct") s += `-pct${fmt(num(p, "percentile") ?? 99.999)}`;
  else if (e === "mse" || e === "kl") s += `-${e}`;
  const r = str(p, "rounding");
  if (r === "rna") s += "-rna";
  else if (r === "sr") s += `-sr${num(p, "seed") ?? 0}`;
  return s;
}

function parseLinear(s: string, defaultMode: string): Params | null {
  const m = LINEAR_RE.exec(s);
  if (!m) return null;
  const [, signed, bits, mode, gran, chAxis, group, groupAxis, est, pct, rnd, seed] = m;
  const p = defaults(LINEAR_OPTIONS);
  p.signed = signed!;
  p.bits = bits!;
  p.mode = mode ?? defaultMode;
  if (gran?.startsWith("ch")) {
    p.granularity = "ch";
    p.axis = chAxis ? Number(chAxis) : 0;
  } else if (gran?.startsWith("group")) {
    p.granularity = "group";
    p.group = int(group);
    p.groupAxis = int(groupAxis);
  }
  if (est?.startsWith("pct")) {
    p.estimator = "pct";
    p.percentile = Number(pct);
  } else if (est) p.estimator = est;
  if (rnd?.startsWith("sr")) {
    p.rounding = "sr";
    p.seed = int(seed);
  } else if (rnd) p.rounding = rnd;
  return p;
}

const linear: SchemeFamily = {
  id: "linear",
  label: "Linear (int / uint)",
  grammar:
    "{int|uint}<bits>-{sym|asym}[-tensor|-ch<axis>|-group<size>[-ax<axis>]][-minmax|-pct<p>|-mse|-kl][-rne|-rna|-sr<seed>]",
  options: LINEAR_OPTIONS,
  build: (p) => buildLinear(p),
  parse: (s) => parseLinear(s, "sym"),
};

// --- convention presets ---------------------------------------------------------------
// `<tool>-<linear string>`; the mode may be left to the tool's convention.

const PRESET_OPTIONS: SchemeOption[] = [
  {
    key: "tool",
    label: "convention",
    type: "enum",
    choices: [
      { value: "ort", label: "ONNX Runtime" },
      { value: "torch", label: "PyTorch" },
      { value: "tflite", label: "TFLite" },
      { value: "tfjs", label: "TF.js" },
    ],
    default: "torch",
  },
  ...LINEAR_OPTIONS.map((o): SchemeOption => {
    if (o.type !== "enum") return o;
    // The mode may be left to the tool's convention; presets are mostly per channel.
    if (o.key === "mode") return { ...o, choices: [{ value: "", label: "tool's default" }, ...o.choices] };
    if (o.key === "granularity") return { ...o, default: "ch" };
    return o;
  }),
  {
    key: "reduced",
    label: "reduce_range",
    type: "bool",
    default: false,
    help: "ONNX Runtime's 7-bit range for int8",
    show: (p) => p.tool === "ort",
  },
];

const PRESET_RE = /^(ort|torch|tflite|tfjs)-(.+?)(-reduced)?$/;

const presets: SchemeFamily = {
  id: "preset",
  label: "Tool convention",
  grammar: "{ort|torch|tflite|tfjs}-<linear string>",
  options: PRESET_OPTIONS,
  build: (p) => {
    // An empty mode leaves it to the tool (`tflite-int8-ch0`, `tfjs-uint8`).
    const rest = buildLinear(p, str(p, "mode") !== "");
    return `${str(p, "tool")}-${rest}${p.tool === "ort" && p.reduced === true ? "-reduced" : ""}`;
  },
  parse: (s) => {
    const m = PRESET_RE.exec(s);
    if (!m) return null;
    const p = parseLinear(m[2]!, "");
    if (!p) return null;
    return { ...defaults(PRESET_OPTIONS), ...p, tool: m[1]!, reduced: m[3] !== undefined };
  },
};

// --- the families with fixed names or a few numbers ---------------------------------

const ggml: SchemeFamily = {
  id: "ggml",
  label: "ggml blocks",
  grammar: "q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | q4_k | q6_k",
  options: [
    {
      key: "type",
      label: "type",
      type: "enum",
      choices: choices("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q6_k"),
      default: "q4_0",
    },
  ],
  build: (p) => str(p, "type"),
  parse: (s) => (/^(q8_0|q4_0|q4_1|q5_0|q5_1|q4_k|q6_k)$/.test(s) ? { type: s } : null),
};

const codebook4: SchemeFamily = {
  id: "nf4",
  label: "NF4 / FP4",
  grammar: "{nf4|fp4}[-b<block>]",
  options: [
    { key: "type", label: "type", type: "enum", choices: choices("nf4", "fp4"), default: "nf4" },
    { key: "block", label: "block", type: "number", min: 1, max: 65536, step: 1, default: 64 },
  ],
  build: (p) => {
    const b = num(p, "block") ?? 64;
    return b === 64 ? str(p, "type") : `${str(p, "type")}-b${b}`;
  },
  parse: (s) => {
    const m = /^(nf4|fp4)(?:-b(\d+))?$/.exec(s);
    return m ? { type: m[1]!, block: int(m[2]) ?? 64 } : null;
  },
};

const floats: SchemeFamily = {
  id: "float",
  label: "Float casts",
  grammar: "fp16 | bf16 | fp8-e4m3 | fp8-e5m2",
  options: [
    {
      key: "type",
      label: "format",
      type: "enum",
      choices: choices("fp16", "bf16", "fp8-e4m3", "fp8-e5m2"),
      default: "fp8-e4m3",
    },
  ],
  build: (p) => str(p, "type"),
  parse: (s) => (/^(fp16|bf16|fp8-e4m3|fp8-e5m2)$/.test(s) ? { type: s } : null),
};

const log: SchemeFamily = {
  id: "log",
  label: "Power of two",
  grammar: "{pot|apot}<bits>[-e<min>_<max>]",
  options: [
    {
      key: "type",
      label: "type",
      type: "enum",
      choices: [
        { value: "pot", label: "powers of two" },
        { value: "apot", label: "sums of two powers (APoT)" },
      ],
      default: "pot",
    },
    {
      key: "bits",
      label: "bits",
      type: "enum",
      choices: choices("2", "3", "4", "5", "6", "7", "8"),
      default: "4",
    },
    {
      key: "exponents",
      label: "exponents",
      type: "enum",
      choices: [
        { value: "auto", label: "from the data" },
        { value: "fixed", label: "fixed range" },
      ],
      default: "auto",
    },
    {
      key: "emin",
      label: "min exp",
      type: "number",
      min: -126,
      max: 127,
      step: 1,
      default: -8,
      show: (p) => p.exponents === "fixed",
    },
    {
      key: "emax",
      label: "max exp",
      type: "number",
      min: -126,
      max: 127,
      step: 1,
      default: 0,
      show: (p) => p.exponents === "fixed",
    },
  ],
  build: (p) => {
    const s = `${str(p, "type")}${str(p, "bits")}`;
    return p.exponents === "fixed" ? `${s}-e${num(p, "emin") ?? -8}_${num(p, "emax") ?? 0}` : s;
  },
  parse: (s) => {
    const m = /^(pot|apot)(\d+)(?:-e(-?\d+)_(-?\d+))?$/.exec(s);
    if (!m) return null;
    return {
      type: m[1]!,
      bits: m[2]!,
      exponents: m[3] === undefined ? "auto" : "fixed",
      emin: int(m[3]) ?? -8,
      emax: int(m[4]) ?? 0,
    };
  },
};

const vector: SchemeFamily = {
  id: "vq",
  label: "Clustering / vector",
  grammar: "kmeans<k>[-s<seed>][-it<n>] | kmeansdp<k> | pq<k>x<d>[-s<seed>]",
  options: [
    {
      key: "method",
      label: "method",
      type: "enum",
      choices: [
        { value: "kmeans", label: "k-means (Lloyd)" },
        { value: "kmeansdp", label: "optimal 1-D k-means" },
        { value: "pq", label: "product quantization" },
      ],
      default: "kmeans",
    },
    { key: "k", label: "centroids", type: "number", min: 2, max: 65536, step: 1, default: 16 },
    {
      key: "d",
      label: "sub-vector",
      type: "enum",
      choices: choices("2", "4", "8"),
      default: "4",
      show: (p) => p.method === "pq",
    },
    {
      key: "seed",
      label: "seed",
      type: "number",
      min: 0,
      max: 2 ** 32 - 1,
      step: 1,
      default: null,
      help: "empty: the core's default",
      show: (p) => p.method !== "kmeansdp",
    },
    {
      key: "iterations",
      label: "iterations",
      type: "number",
      min: 1,
      max: 1000,
      step: 1,
      default: null,
      help: "empty: the core's default",
      show: (p) => p.method === "kmeans",
    },
  ],
  build: (p) => {
    const k = num(p, "k") ?? 16;
    const seed = num(p, "seed");
    const s = seed === null ? "" : `-s${seed}`;
    switch (p.method) {
      case "kmeansdp":
        return `kmeansdp${k}`;
      case "pq":
        return `pq${k}x${str(p, "d")}${s}`;
      default: {
        const it = num(p, "iterations");
        return `kmeans${k}${s}${it === null ? "" : `-it${it}`}`;
      }
    }
  },
  parse: (s) => {
    let m = /^kmeans(\d+)(?:-s(\d+))?(?:-it(\d+))?$/.exec(s);
    if (m) return { method: "kmeans", k: Number(m[1]), d: "4", seed: int(m[2]), iterations: int(m[3]) };
    m = /^kmeansdp(\d+)$/.exec(s);
    if (m) return { method: "kmeansdp", k: Number(m[1]), d: "4", seed: null, iterations: null };
    m = /^pq(\d+)x(\d+)(?:-s(\d+))?$/.exec(s);
    if (m) return { method: "pq", k: Number(m[1]), d: m[2]!, seed: int(m[3]), iterations: null };
    return null;
  },
};

const mixed: SchemeFamily = {
  id: "mixed",
  label: "Mixed INT8 + FP16",
  grammar: "mixed-int8-fp16-{t<threshold>|top<percent>}",
  options: [
    {
      key: "rule",
      label: "outliers",
      type: "enum",
      choices: [
        { value: "t", label: "|x| above a threshold" },
        { value: "top", label: "top k % of columns" },
      ],
      default: "t",
    },
    {
      key: "threshold",
      label: "threshold",
      type: "number",
      min: 0,
      max: 1e6,
      step: 0.1,
      default: 6,
      show: (p) => p.rule === "t",
    },
    {
      key: "percent",
      label: "percent",
      type: "number",
      min: 0,
      max: 100,
      step: 0.1,
      default: 1,
      show: (p) => p.rule === "top",
    },
  ],
  build: (p) =>
    p.rule === "top"
      ? `mixed-int8-fp16-top${fmt(num(p, "percent") ?? 1)}`
      : `mixed-int8-fp16-t${fmt(num(p, "threshold") ?? 6)}`,
  parse: (s) => {
    const m = /^mixed-int8-fp16-(?:t([\d.]+)|top([\d.]+))$/.exec(s);
    if (!m) return null;
    return {
      rule: m[2] === undefined ? "t" : "top",
      threshold: m[1] === undefined ? 6 : Number(m[1]),
      percent: m[2] === undefined ? 1 : Number(m[2]),
    };
  },
};

/** Every family of docs/SCHEMES.md, in the order the picker lists them. */
export const FAMILIES: readonly SchemeFamily[] = [
  linear,
  presets,
  ggml,
  codebook4,
  floats,
  log,
  vector,
  mixed,
];

export function family(id: string): SchemeFamily {
  const f = FAMILIES.find((x) => x.id === id);
  if (!f) throw new Error(`no scheme family ${id}`);
  return f;
}

export function defaults(options: readonly SchemeOption[]): Params {
  return Object.fromEntries(options.map((o) => [o.key, o.default]));
}

/** The family and parameters of a scheme string, or null when no family here knows it. */
export function parseSchemeString(s: string): { family: SchemeFamily; params: Params } | null {
  const lower = s.trim().toLowerCase();
  for (const f of FAMILIES) {
    const params = f.parse(lower);
    if (params) return { family: f, params: { ...defaults(f.options), ...params } };
  }
  return null;
}

/** Options of a family that apply given the current values. */
export function visibleOptions(f: SchemeFamily, p: Params): SchemeOption[] {
  return f.options.filter((o) => o.show?.(p) ?? true);
}

/** How many schemes the page compares at once (one colour each). */
export const MAX_SCHEMES = 6;

/**
 * What the page compares when the URL names nothing. A default the core rejects (a
 * family not in this build) is dropped without a message.
 */
export const DEFAULT_SCHEMES: readonly string[] = ["int8-sym-ch0", "int4-sym-ch0", "int4-asym-group128"];
