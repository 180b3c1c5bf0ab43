// The tensor table (#tensor-list): one row per tensor, click or Enter selects it.

import { formatBytes, formatShape } from "../format";
import type { TensorInfo } from "../shared/types";

export class TensorList {
  private readonly body: HTMLTableSectionElement;
  private selected: string | undefined;

  constructor(
    table: HTMLTableElement,
    private readonly onSelect: (name: string) => void,
  ) {
    this.body = table.tBodies[0] ?? table.createTBody();
    this.body.addEventListener("click", (e) => this.pick(e.target));
    this.body.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        this.pick(e.target);
      }
    });
  }

  private pick(target: EventTarget | null): void {
    const row = target instanceof Element ? target.closest<HTMLTableRowElement>("tr[data-name]") : null;
    const name = row?.dataset.name;
    if (name !== undefined && name !== this.selected) this.onSelect(name);
  }

  setTensors(tensors: readonly TensorInfo[]): void {
    this.selected = undefined;
    this.body.replaceChildren(
      ...tensors.map((t) => {
        const tr = document.createElement("tr");
        tr.dataset.name = t.name;
        tr.tabIndex = 0;
        tr.append(
          nameCell(t.name),
          cell(formatShape(t.shape), "shape"),
          cell(t.dtype, "dtype"),
          cell(formatBytes(t.size_bytes), "size num"),
        );
        tr.dataset.shape = JSON.stringify(t.shape);
        tr.dataset.dtype = t.dtype;
        return tr;
      }),
    );
  }

  select(name: string): void {
    this.selected = name;
    for (const tr of this.body.rows) {
      const on = tr.dataset.name === name;
      tr.classList.toggle("selected", on);
      tr.setAttribute("aria-selected", String(on));
    }
  }
}

function cell(text: string, className: string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.className = className;
  td.textContent = text;
  return td;
}

/** Long dotted names ("layers.0.attn.qkv.weight") may wrap after a dot, not mid-word. */
function nameCell(name: string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.className = "name";
  td.title = name;
  name.split(/(?<=\.)/).forEach((part, i) => {
    if (i > 0) td.append(document.createElement("wbr"));
    td.append(part);
  });
  return td;
}
