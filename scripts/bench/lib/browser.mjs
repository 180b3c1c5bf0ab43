// Runs a benchmark function inside headless Chromium (Debian's /usr/bin/chromium, via
// playwright-core and tests/e2e/harness.mjs's launch()), where relaxed SIMD is on by
// default and exact: Node 20's V8 11.3 returned wrong relaxed_dot sums, so timings of
// the relaxed build are only taken here. A small static server gives the page our two
// benchmark wasm builds (/pkg/, /pkg-relaxed/: www/pkg-bench*, the builds with the
// kernel entry points, `npm run build:wasm-bench`), onnxruntime-web's files (/ort/) and
// the ONNX bench models (/models/, target/bench-models/).
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { ROOT, launch } from "../../../tests/e2e/harness.mjs";

const MOUNTS = {
  "/pkg/": join(ROOT, "www/pkg-bench"),
  "/pkg-relaxed/": join(ROOT, "www/pkg-bench-relaxed"),
  "/ort/": join(ROOT, "node_modules/onnxruntime-web/dist"),
  "/models/": join(ROOT, "target/bench-models"),
};
const MIME = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };
// Cross-origin isolation: without it Chromium rounds performance.now() to 100 µs, too
// coarse for a 1 ms GEMV; isolated pages get 5 µs.
const ISOLATED = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };

function serve() {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    if (path === "/") return res.writeHead(200, { "content-type": "text/html", ...ISOLATED }).end("<!doctype html><title>bench</title>");
    if (path === "/favicon.ico") return res.writeHead(204).end();
    const mount = Object.keys(MOUNTS).find((m) => path.startsWith(m));
    if (!mount) return res.writeHead(404).end();
    const base = MOUNTS[mount];
    const file = normalize(join(base, path.slice(mount.length)));
    if (!file.startsWith(base + sep) || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream", "cache-control": "no-store", ...ISOLATED });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

/**
 * Evaluates `fn(arg)` in a page of headless Chromium served by the server above;
 * `onLog` receives the page's console.log lines as they come (progress). Returns what
 * `fn` returns (structured-cloneable).
 */
export async function inChromium(fn, arg, onLog = (s) => console.log(s)) {
  const server = await serve();
  const browser = await launch();
  try {
    const { page } = browser;
    page.setDefaultTimeout(0);
    page.on("console", (m) => m.type() === "log" && onLog(m.text()));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const [version, isolated] = await page.evaluate(() => [navigator.userAgent, crossOriginIsolated]);
    onLog(`# ${/Chrome\/[\d.]+/.exec(version)?.[0] ?? version} (headless), crossOriginIsolated ${isolated}`);
    const out = await page.evaluate(fn, arg);
    if (page.problems.length) throw new Error(page.problems.join("\n"));
    return out;
  } finally {
    await browser.close();
    await new Promise((ok) => server.close(ok));
  }
}
