// Shared pieces of the browser tests: a static server for dist/, headless Chromium,
// the native CLI and the fixture manifest.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CSP } from "../../www/csp.mjs";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const DIST = join(ROOT, "dist");
export const CLI = join(ROOT, "target", "release", "quantscope");
export const DEMO = join(ROOT, "www", "public", "demo.safetensors");
export const FORMATS = join(ROOT, "tests", "fixtures", "formats");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".safetensors": "application/octet-stream",
};

/**
 * Serves dist/ on 127.0.0.1 at a free port; `npm run build` must have run. Every
 * response carries the page's Content-Security-Policy, as `vite preview` (`npm start`)
 * sends it, so every e2e test runs under it: a request it forbids is a console error,
 * which `launch()` records as a problem.
 */
export async function serveDist(dir = DIST) {
  if (!existsSync(join(dir, "index.html"))) {
    throw new Error(`${dir}/index.html is missing: run \`npm run build\` first`);
  }
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    let file = normalize(join(dir, path));
    if (file !== dir && !file.startsWith(dir + sep)) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!existsSync(file)) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, {
      "content-type": MIME[extname(file)] ?? "application/octet-stream",
      "cache-control": "no-store",
      "content-security-policy": CSP,
    });
    res.end(readFileSync(file));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

/**
 * Headless Chromium with a fresh profile. Returns the context, a page that records
 * uncaught errors and console errors in `page.problems`, and `close()`.
 */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), "quantscope-e2e-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
  context.setDefaultTimeout(20_000);
  const page = context.pages()[0] ?? (await context.newPage());
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") page.problems.push(`console: ${m.text()}`);
  });
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens the page and waits until the demo (or `expectFile`) is open and analysed. */
export async function openApp(page, url, expectFile = "demo.safetensors") {
  await page.goto(url);
  await page.waitForSelector(`#build-info[data-simd128="true"], #build-info[data-simd128="false"]`);
  await waitForModel(page, expectFile);
}

export async function waitForModel(page, fileName) {
  await page.waitForFunction(
    (name) => document.getElementById("model-name")?.textContent?.startsWith(`${name} (`),
    fileName,
  );
  await waitForAnalysis(page);
}

/**
 * Waits until the detail panel shows `tensor` under `schemes` (a string or a list, in
 * chip order); either may be omitted.
 */
export async function waitForAnalysis(page, tensor, schemes) {
  let sel = `#detail[aria-busy="false"][data-tensor]`;
  if (tensor !== undefined) sel += `[data-tensor=${JSON.stringify(tensor)}]`;
  if (schemes !== undefined) {
    const list = Array.isArray(schemes) ? schemes.join(",") : schemes;
    sel += `[data-schemes=${JSON.stringify(list)}]`;
  }
  await page.waitForSelector(sel);
}

/** The compared schemes, as the chips show them. */
export function chips(page) {
  return page.$$eval("#scheme-chips [data-scheme]", (els) => els.map((el) => el.dataset.scheme));
}

/** The schemes and tensor the page's URL holds. */
export function urlState(page) {
  const params = new URL(page.url()).searchParams;
  return { schemes: params.get("schemes")?.split(",") ?? [], tensor: params.get("tensor") };
}

/** Rows of #tensor-list as {name, shape, dtype}. */
export function tensorRows(page) {
  return page.$$eval("#tensor-list tbody tr", (trs) =>
    trs.map((tr) => ({
      name: tr.dataset.name,
      shape: JSON.parse(tr.dataset.shape),
      dtype: tr.dataset.dtype,
    })),
  );
}

/** Numbers of the rendered charts, to assert that real marks were drawn. */
export function chartCounts(page) {
  return page.evaluate(() => {
    const count = (sel) => document.querySelectorAll(sel).length;
    const layers = (sel) =>
      [...document.querySelectorAll(sel)].map((g) => ({
        scheme: g.dataset.scheme,
        // Drawn: a path with real coordinates.
        drawn: [...g.querySelectorAll("path")].some((p) => /\d/.test(p.getAttribute("d") ?? "")),
      }));
    const weights = document.getElementById("chart-weights");
    return {
      weightBars: count("#chart-weights svg g.weights-bars rect"),
      gridRules: count("#chart-weights svg g.grid-levels line"),
      levels: Number(weights?.dataset.levels),
      gridScheme: weights?.dataset.gridScheme,
      gridToggles: [...document.querySelectorAll("#grid-toggle button")].map((b) => b.dataset.grid),
      errorLayers: layers("#chart-error svg g.error-layer"),
      scalesLayers: layers("#chart-scales svg g.scales-line"),
      scalesHidden: document.getElementById("scales-figure")?.hidden ?? true,
    };
  });
}

/** Runs the native CLI with --json: `{ ok: true, json }`, or `{ ok: false, message }` with its error. */
export function cliTry(args, options = {}) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`cargo build --release\` first`);
  const r = spawnSync(CLI, [...args, "--json"], { encoding: "utf8", ...options });
  if (r.status === 0) return { ok: true, json: JSON.parse(r.stdout) };
  // The CLI prints `quantscope: <the core's message>`.
  return { ok: false, message: r.stderr.trim().replace(/^quantscope: /, "") };
}

/** Runs the native CLI and parses its JSON output. */
export function cliJson(args) {
  const r = cliTry(args);
  if (!r.ok) throw new Error(`quantscope ${args.join(" ")} failed: ${r.message}`);
  return r.json;
}

/**
 * What the page must show for `tensor` under `scheme`, as `quantscope quantize --json`
 * prints it: every metric cell's data-value, keyed by metric.
 */
export function cliMetrics(tensor, scheme) {
  const rows = cliJson(["quantize", DEMO, "--scheme", scheme, "--tensor", tensor]);
  if (rows.length !== 1 || rows[0].name !== tensor)
    throw new Error(`CLI printed ${rows.length} rows for ${tensor}`);
  return metricValues(rows[0]);
}

/** A CLI row's numbers as the page writes them in data-value. */
export function metricValues(row) {
  const expected = { bits_per_weight: String(row.bits_per_weight), packed_bytes: String(row.packed_bytes) };
  // JSON has no Infinity: the CLI prints null for the SQNR of an exact reconstruction.
  for (const k of ["mse", "sqnr_db", "cosine", "max_abs_error"])
    expected[k] = String(row.metrics[k] ?? Infinity);
  return expected;
}

/**
 * What the whole-model table must hold for `file`, as the CLI computes it: per
 * "scheme name" key, the row's data-values, or the core's message for a failed row.
 * One CLI call per scheme; where the CLI stops at a tensor it cannot encode, the list
 * is halved until each failure stands alone (few calls for a few failures).
 */
export function cliSummary(file, tensors, schemes) {
  const rows = (scheme, names) => {
    if (names.length === 0) return [];
    const r = cliTry(["quantize", file, "--scheme", scheme, ...names.flatMap((n) => ["--tensor", n])]);
    if (r.ok)
      return r.json.map((row) => ({
        name: row.name,
        scheme,
        numel: String(row.numel),
        ...metricValues(row),
      }));
    if (names.length === 1) return [{ name: names[0], scheme, error: r.message }];
    const mid = names.length >> 1;
    return [...rows(scheme, names.slice(0, mid)), ...rows(scheme, names.slice(mid))];
  };
  return bySummaryKey(schemes.flatMap((scheme) => rows(scheme, tensors)));
}

export const summaryKey = (name, scheme) => `${scheme} ${name}`;

/** Summary rows (as `summaryRows` gives them) keyed like `cliSummary`. */
export function bySummaryKey(rows) {
  return new Map(rows.map((r) => [summaryKey(r.name, r.scheme), r]));
}

/** The metrics table: for each scheme column, its cells' data-value by metric. */
export function pageMetrics(page) {
  return page.$$eval("#metrics td[data-metric]", (tds) => {
    const out = {};
    for (const td of tds) (out[td.dataset.scheme] ??= {})[td.dataset.metric] = td.dataset.value;
    return out;
  });
}

/** The scheme of each metrics column, left to right. */
export function metricColumns(page) {
  return page.$$eval("#metrics thead th[data-scheme]", (ths) => ths.map((th) => th.dataset.scheme));
}

/** The fixture manifest: what each file must open as, and which error each corrupt file gives. */
export function readManifest() {
  const dir = FORMATS;
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
  return { dir, ...manifest };
}

export function assertNoProblems(assert, page) {
  assert.deepEqual(page.problems, [], "the page logged errors");
}

/** Rows of #summary in display order: name, scheme, failure message and each column's data-value. */
export function summaryRows(page) {
  return page.$$eval("#summary tbody tr", (trs) =>
    trs.map((tr) => ({
      ...Object.fromEntries(
        [...tr.cells]
          .filter((td) => td.dataset.value !== undefined)
          .map((td) => [td.dataset.key, td.dataset.value]),
      ),
      ...(tr.classList.contains("failed") ? { error: tr.title } : {}),
    })),
  );
}

/**
 * Writes a safetensors file of F32 tensors: `tensors` is a list of `{ name, shape }`,
 * and `value(i)` gives the i-th value over the whole file (deterministic data).
 */
export function writeSafetensors(file, tensors, value) {
  const header = {};
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
    header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const data = new Float32Array(offset / 4);
  for (let i = 0; i < data.length; i++) data[i] = value(i);
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, Buffer.from(json), Buffer.from(data.buffer)]));
  return file;
}
