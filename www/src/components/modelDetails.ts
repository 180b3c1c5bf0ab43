// What a file says about itself beside its tensors: its metadata (safetensors'
// __metadata__, GGUF key/values, ONNX model properties, checkpoint scalars), the graph
// summary of an ONNX model (nodes, operators, opsets), and, for the selected tensor,
// which nodes take it and the quantization parameters the file stores with it (TFLite).

import type { ModelInfo } from "../shared/types";

/** Shows the file's metadata and graph summary in #model-details (hidden when empty). */
export function renderModelDetails(
  root: HTMLDetailsElement,
  graph: HTMLElement,
  meta: HTMLTableElement,
  info: ModelInfo,
): void {
  const entries = Object.entries(info.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  meta.tBodies[0]!.replaceChildren(
    ...entries.map(([k, v]) => {
      const tr = document.createElement("tr");
      tr.dataset.key = k;
      const key = document.createElement("td");
      key.textContent = k;
      const value = document.createElement("td");
      value.textContent = v;
      tr.append(key, value);
      return tr;
    }),
  );
  const g = info.graph;
  if (g) {
    const ops = Object.entries(g.op_types)
      .sort(([, a], [, b]) => b - a)
      .map(([op, n]) => `${op} ${n}`)
      .join(", ");
    const opsets = Object.entries(g.opsets)
      .map(([domain, v]) => `${domain || "ai.onnx"} ${v}`)
      .join(", ");
    graph.textContent =
      `Graph: ${g.node_count} nodes` +
      (g.subgraph_count > 0 ? ` (${g.subgraph_count} subgraphs)` : "") +
      ` · ${ops}` +
      (opsets ? ` · opsets ${opsets}` : "");
    graph.dataset.nodes = String(g.node_count);
  } else {
    graph.textContent = "";
    delete graph.dataset.nodes;
  }
  root.hidden = entries.length === 0 && !g;
  root.querySelector("summary")!.textContent =
    `File details: ${entries.length} metadata entr${entries.length === 1 ? "y" : "ies"}` +
    (g ? ", graph" : "");
}

/** One line on the selected tensor: the nodes that take it, the quantization stored with it. */
export function renderTensorFacts(
  el: HTMLElement,
  info: ModelInfo | undefined,
  tensor: string | undefined,
): void {
  const parts: string[] = [];
  const consumers = tensor ? info?.graph?.weight_consumers[tensor] : undefined;
  if (consumers?.length) {
    parts.push(`Feeds ${consumers.map((c) => `${c.node} (${c.op_type})`).join(", ")}`);
  }
  const q = tensor ? info?.quantization?.[tensor] : undefined;
  if (q) {
    const head = q.scales
      .slice(0, 4)
      .map((s) => s.toPrecision(4))
      .join(", ");
    const along = q.scales.length > 1 ? ` along dimension ${q.quantized_dimension}` : "";
    const zps = q.zero_points.slice(0, 4).join(", ");
    parts.push(
      `Stored in the file as ${q.code_dtype} codes with ${q.scales.length} scale${q.scales.length === 1 ? "" : "s"}${along} ` +
        `(${head}${q.scales.length > 4 ? ", …" : ""}; zero points ${zps}${q.zero_points.length > 4 ? ", …" : ""}); ` +
        "the values shown are scale × (code − zero point)",
    );
  }
  el.textContent = parts.join(". ");
  el.hidden = parts.length === 0;
  el.dataset.scales = q ? String(q.scales.length) : "";
  el.dataset.consumers = consumers ? String(consumers.length) : "";
}
