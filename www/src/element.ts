// <quantscope-playground>: the whole playground as one custom element. The app's page
// is this element and nothing else (index.html); the npm package defines it with its
// own workers (lib/element.ts), so another page embeds the playground with one tag.
//
//   <quantscope-playground src="model.safetensors" schemes="int8-sym-ch0,q4_0"
//                          tensor="fc1.weight"></quantscope-playground>
//
// Attributes (read when the element is first connected):
//   src        a model to open first, by URL (fetched by the workers; same origin or CORS)
//   schemes    the schemes compared, comma-separated (else the defaults)
//   tensor     the tensor selected first (else the largest floating weight)
//   workers    how many compute workers (else one per core, up to 4)
//   build      "simd128" to load the SIMD128 build where relaxed SIMD would run
//   url-state  mirror the view in the page's URL, and let the URL override the
//              attributes (the app does; an embedded element leaves the URL alone)
// Removing the element from the page ends its workers; adding it again starts afresh.
// Properties: `files = [file, ...]` opens files (a File from an <input> or a drop);
// `src = url` opens a URL; `schemes = [...]` sets the schemes; `ready` settles once the
// first model is open.

import { mountPlayground, type PlaygroundHandle } from "./playground";
import { BUILD_PARAM, LEGACY_SCHEME_PARAM, SCHEMES_PARAM, TENSOR_PARAM, WORKERS_PARAM } from "./shared/meta";
import type { Spawners } from "./spawn";
import { PLAYGROUND_HTML } from "./template";

const PARAMS = [SCHEMES_PARAM, LEGACY_SCHEME_PARAM, TENSOR_PARAM, WORKERS_PARAM, BUILD_PARAM];

export const PLAYGROUND_TAG = "quantscope-playground";

/** Defines <quantscope-playground> (once) with workers started by `spawn`. */
export function definePlayground(spawn: Spawners, tag: string = PLAYGROUND_TAG): void {
  if (customElements.get(tag)) return;
  customElements.define(
    tag,
    class QuantscopePlayground extends HTMLElement {
      private handle: PlaygroundHandle | undefined;
      private pendingFiles: File[] | undefined;

      connectedCallback(): void {
        if (this.handle) return;
        const urlState = this.hasAttribute("url-state");
        const params: Record<string, string | undefined> = {};
        for (const p of PARAMS) params[p] = this.getAttribute(p) ?? undefined;
        if (urlState) {
          for (const [k, v] of new URL(location.href).searchParams) if (PARAMS.includes(k)) params[k] = v;
        }
        const src = this.getAttribute("src");
        this.innerHTML = PLAYGROUND_HTML;
        this.handle = mountPlayground(this, {
          spawn,
          params,
          urlState,
          model: this.pendingFiles
            ? { files: this.pendingFiles }
            : src
              ? {
                  url: src,
                  name:
                    src
                      .split(/[/?#]/)
                      .filter((p) => p !== "")
                      .pop() ?? src,
                }
              : undefined,
        });
        this.pendingFiles = undefined;
      }

      // Removed from the page: its workers (and the wasm memory each holds) end. Moving
      // the element disconnects and reconnects it in one task, so the check waits a
      // microtask and keeps a playground that is back in the page.
      disconnectedCallback(): void {
        queueMicrotask(() => {
          if (this.isConnected || !this.handle) return;
          this.handle.close();
          this.handle = undefined;
        });
      }

      /** Opens these files as one model (before connection: the first model). */
      set files(files: File[] | FileList) {
        const list = Array.from(files);
        if (this.handle) void this.handle.openFiles(list);
        else this.pendingFiles = list;
      }

      set src(url: string) {
        if (this.handle)
          void this.handle.openUrl(
            url,
            url
              .split(/[/?#]/)
              .filter((p) => p !== "")
              .pop(),
          );
        else this.setAttribute("src", url);
      }

      get src(): string {
        return this.getAttribute("src") ?? "";
      }

      set schemes(schemes: string[]) {
        if (this.handle) this.handle.setSchemes(schemes);
        else this.setAttribute(SCHEMES_PARAM, schemes.join(","));
      }

      /** Settles once the core has loaded and the first model is open (or failed to). */
      get ready(): Promise<void> {
        return this.handle?.ready ?? Promise.resolve();
      }
    },
  );
}
