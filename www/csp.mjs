// The page's Content-Security-Policy, in one place: vite.config.ts writes it into the
// built index.html and sends it from `vite preview` (what `npm start` serves); the e2e
// server sends it too. A <meta> policy covers the document only: a dedicated worker is
// governed by the policy that comes with its script's response, so the header is what
// keeps the worker, where the wasm core reads files, from reaching the network.
//
// Nothing leaves the machine: connect-src 'self' (the wasm module and the demo model
// come from the page's own origin), no remote script, style or image. 'wasm-unsafe-eval'
// lets WebAssembly.instantiate compile the core; 'unsafe-inline' for styles is for
// Observable Plot, which writes a <style> element into each chart (styles load nothing:
// img-src and font-src stay local).

/** @type {Record<string, string[]>} */
export const CSP_DIRECTIVES = {
  "default-src": ["'none'"],
  "script-src": ["'self'", "'wasm-unsafe-eval'"],
  "worker-src": ["'self'"],
  "connect-src": ["'self'"],
  "img-src": ["'self'", "data:", "blob:"],
  "style-src": ["'self'", "'unsafe-inline'"],
  "font-src": ["'self'"],
  "manifest-src": ["'self'"],
  "object-src": ["'none'"],
  "base-uri": ["'self'"],
  "form-action": ["'none'"],
};

export const CSP = Object.entries(CSP_DIRECTIVES)
  .map(([k, v]) => `${k} ${v.join(" ")}`)
  .join("; ");
