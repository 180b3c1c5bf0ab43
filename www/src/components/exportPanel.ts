// The download panel (#export): the open model quantized with one of the compared
// schemes, written by the core as safetensors (compressed-tensors names), GGUF, or
// ONNX with QuantizeLinear/DequantizeLinear (for an ONNX model), and handed to the
// browser as a download; the writer's report (what each tensor became, and why) beside
// it. The file is made in the worker, from the file on this machine: nothing is sent
// anywhere.

import { formatBytes } from "../format";
import type { ExportFormat, ExportResult } from "../shared/api";
import { messageOf } from "./errorBanner";

export interface ExportElements {
  root: HTMLElement;
  format: HTMLSelectElement;
  scheme: HTMLSelectElement;
  run: HTMLButtonElement;
  status: HTMLElement;
  file: HTMLAnchorElement;
  report: HTMLAnchorElement;
  notes: HTMLUListElement;
}

const EXTENSION: Record<ExportFormat, string> = { safetensors: "safetensors", gguf: "gguf", onnx: "onnx" };

/** `model.onnx` + `int8-sym-ch0` + `onnx` -> `model.int8-sym-ch0.onnx`. */
export function exportName(modelFile: string, scheme: string, format: ExportFormat): string {
  const base = modelFile.replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "") || "model";
  return `${base}.${scheme}.${EXTENSION[format]}`;
}

export class ExportPanel {
  private modelFile = "model";
  private urls: string[] = [];
  private seq = 0;

  constructor(
    private readonly el: ExportElements,
    private readonly write: (format: ExportFormat, scheme: string) => Promise<ExportResult>,
  ) {
    el.run.addEventListener("click", () => void this.run());
  }

  /** A newly opened model: ONNX output only for an ONNX model; old links go away. */
  setModel(fileName: string, format: string): void {
    this.modelFile = fileName;
    const onnx = this.el.format.querySelector<HTMLOptionElement>('option[value="onnx"]');
    if (onnx) onnx.disabled = format !== "onnx";
    if (this.el.format.value === "onnx" && format !== "onnx") this.el.format.value = "safetensors";
    if (format === "onnx") this.el.format.value = "onnx";
    this.clear();
    this.el.status.textContent = "";
    delete this.el.root.dataset.state;
  }

  /** The compared schemes, offered for the file. */
  setSchemes(schemes: readonly string[]): void {
    const keep = this.el.scheme.value;
    this.el.scheme.replaceChildren(...schemes.map((s) => new Option(s, s)));
    if (schemes.includes(keep)) this.el.scheme.value = keep;
  }

  private clear(): void {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
    for (const a of [this.el.file, this.el.report]) {
      a.hidden = true;
      a.removeAttribute("href");
    }
    this.el.notes.replaceChildren();
  }

  private async run(): Promise<void> {
    const format = this.el.format.value as ExportFormat;
    const scheme = this.el.scheme.value;
    if (!scheme) return;
    const seq = ++this.seq;
    this.clear();
    this.el.root.dataset.state = "writing";
    this.el.run.disabled = true;
    this.el.status.textContent = `Writing ${format} with ${scheme}…`;
    try {
      const { bytes, report } = await this.write(format, scheme);
      if (seq !== this.seq) return;
      const name = exportName(this.modelFile, report.scheme, format);
      const file = URL.createObjectURL(new Blob([bytes as BlobPart], { type: "application/octet-stream" }));
      const json = URL.createObjectURL(
        new Blob([JSON.stringify(report, null, 1)], { type: "application/json" }),
      );
      this.urls.push(file, json);
      Object.assign(this.el.file, { href: file, download: name, hidden: false, textContent: `${name}` });
      Object.assign(this.el.report, {
        href: json,
        download: `${name}.report.json`,
        hidden: false,
        textContent: "report (JSON)",
      });
      const quantized = report.tensors.filter((t) => t.quantized).length;
      this.el.status.textContent =
        `${formatBytes(report.bytes)}: ${quantized} of ${report.tensors.length} tensors quantized` +
        (quantized < report.tensors.length ? "; the others are listed below" : "");
      this.el.notes.replaceChildren(
        ...[
          ...report.notes,
          ...report.tensors
            .filter((t) => !t.quantized)
            .map((t) => `${t.name}: ${t.stored}${t.note ? ` (${t.note})` : ""}`),
        ].map((text) => {
          const li = document.createElement("li");
          li.textContent = text;
          return li;
        }),
      );
      this.el.root.dataset.state = "done";
      this.el.root.dataset.bytes = String(report.bytes);
      // Start the download at once; the link stays for another copy.
      this.el.file.click();
    } catch (e) {
      if (seq !== this.seq) return;
      this.el.root.dataset.state = "failed";
      this.el.status.textContent = `Could not write the file: ${messageOf(e)}`;
    } finally {
      if (seq === this.seq) this.el.run.disabled = false;
    }
  }
}
