// Option defaults shared by the page and the worker.

/** Scheme used when the URL names none (or an invalid one). */
export const DEFAULT_SCHEME = "int8-sym-ch0";

/** Histogram bins for the weight and error charts. */
export const HISTOGRAM_BINS = 80;

/** The built-in model the page opens on load, relative to the page. */
export const DEMO_MODEL = "demo.safetensors";

/** URL query parameter that holds the scheme, so a link restores it. */
export const SCHEME_PARAM = "scheme";

/** How often a whole-model summary reports its finished rows to the page. */
export const PROGRESS_INTERVAL_MS = 100;
