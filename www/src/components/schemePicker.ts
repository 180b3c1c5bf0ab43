// The scheme picker: chips for the compared schemes (#scheme-chips), a form with the
// options of each family (#scheme-family, #scheme-options) that writes its string into
// the text field (#scheme-text), and Add. Every string goes through the core's parser
// before it is used; a rejection shows the core's message (#scheme-error) and changes
// nothing.

import {
  FAMILIES,
  MAX_SCHEMES,
  type Params,
  type SchemeFamily,
  type SchemeOption,
  defaults,
  family,
  parseSchemeString,
  visibleOptions,
} from "../shared/schemes";
import { type Chosen, SCHEME_COLORS } from "./palette";

export interface PickerElements {
  chips: HTMLElement;
  family: HTMLSelectElement;
  options: HTMLElement;
  text: HTMLInputElement;
  add: HTMLButtonElement;
  grammar: HTMLElement;
  message: HTMLElement;
  presets: HTMLDataListElement;
}

export class SchemePicker {
  private chosen: Chosen[] = [];
  private fam: SchemeFamily = FAMILIES[0]!;
  private params: Params = defaults(FAMILIES[0]!.options);
  /** Bumped per validation so that a late answer for older text is dropped. */
  private checkSeq = 0;

  constructor(
    private readonly el: PickerElements,
    /** Canonical form of a string, or a rejection carrying the core's message. */
    private readonly validate: (s: string) => Promise<string>,
    private readonly onChange: (chosen: readonly Chosen[]) => void,
  ) {
    el.family.replaceChildren(...FAMILIES.map((f) => new Option(f.label, f.id)));
    el.family.addEventListener("change", () => {
      this.fam = family(el.family.value);
      this.params = defaults(this.fam.options);
      this.renderOptions();
      this.fromForm();
    });
    el.text.addEventListener("keydown", (e) => {
      if (e.key === "Enter") void this.submit();
    });
    el.text.addEventListener("input", () => {
      this.showError("");
      // Typing a string this page knows sets the form to it; anything else is left to the core.
      const parsed = parseSchemeString(el.text.value);
      if (parsed) this.showInForm(parsed.family, parsed.params);
      this.updateAdd();
    });
    el.add.addEventListener("click", () => void this.submit());
    el.chips.addEventListener("click", (e) => {
      const target = e.target instanceof Element ? e.target : null;
      const chip = target?.closest<HTMLElement>("[data-scheme]");
      const scheme = chip?.dataset.scheme;
      if (scheme === undefined) return;
      if (target?.closest(".chip-remove")) this.remove(scheme);
      else this.edit(scheme);
    });
    this.renderOptions();
    this.el.text.value = this.fam.build(this.params);
  }

  get schemes(): string[] {
    return this.chosen.map((c) => c.scheme);
  }

  get colors(): readonly Chosen[] {
    return this.chosen;
  }

  /** Offers the core's presets as suggestions in the text field. */
  setPresets(presets: readonly string[]): void {
    this.el.presets.replaceChildren(...presets.map((p) => new Option(p, p)));
  }

  /** Shows canonical schemes without announcing them (the caller already knows). */
  set(schemes: readonly string[]): void {
    this.chosen = [];
    for (const s of schemes.slice(0, MAX_SCHEMES)) {
      if (!this.chosen.some((c) => c.scheme === s)) this.chosen.push({ scheme: s, color: this.freeColor() });
    }
    this.renderChips();
    const first = this.chosen[0];
    if (first) this.edit(first.scheme);
  }

  /**
   * Adds a canonical scheme as if it had been typed (announced to the page), unless it
   * is compared already or the comparison is full; says which in the picker's message.
   */
  add(scheme: string): void {
    if (this.chosen.some((c) => c.scheme === scheme)) {
      this.showError(`${scheme} is already compared`);
      return;
    }
    if (this.chosen.length >= MAX_SCHEMES) {
      this.showError(`At most ${MAX_SCHEMES} schemes side by side: remove one first`);
      return;
    }
    this.showError("");
    this.chosen.push({ scheme, color: this.freeColor() });
    this.renderChips();
    this.onChange(this.chosen);
  }

  showError(message: string): void {
    this.el.message.textContent = message;
    this.el.text.setAttribute("aria-invalid", String(message !== ""));
  }

  private freeColor(): string {
    return SCHEME_COLORS.find((c) => !this.chosen.some((x) => x.color === c)) ?? SCHEME_COLORS[0]!;
  }

  private remove(scheme: string): void {
    if (this.chosen.length <= 1) return;
    this.chosen = this.chosen.filter((c) => c.scheme !== scheme);
    this.renderChips();
    this.onChange(this.chosen);
  }

  /** Loads a chosen scheme into the form and the text field, to make a variant of it. */
  private edit(scheme: string): void {
    this.el.text.value = scheme;
    this.showError("");
    const parsed = parseSchemeString(scheme);
    if (parsed) this.showInForm(parsed.family, parsed.params);
    this.updateAdd();
  }

  private async submit(): Promise<void> {
    const raw = this.el.text.value.trim();
    if (raw === "") return;
    const seq = ++this.checkSeq;
    let canonical: string;
    try {
      canonical = await this.validate(raw);
    } catch (e) {
      if (seq === this.checkSeq) this.showError(e instanceof Error ? e.message : String(e));
      return;
    }
    if (seq !== this.checkSeq) return;
    this.el.text.value = canonical;
    if (this.chosen.some((c) => c.scheme === canonical)) {
      this.showError(`${canonical} is already compared`);
      return;
    }
    if (this.chosen.length >= MAX_SCHEMES) {
      this.showError(`At most ${MAX_SCHEMES} schemes side by side: remove one first`);
      return;
    }
    this.showError("");
    this.chosen.push({ scheme: canonical, color: this.freeColor() });
    this.renderChips();
    this.onChange(this.chosen);
  }

  /** The form changed: write its string and ask the core about it at once. */
  private fromForm(): void {
    const s = this.fam.build(this.params);
    this.el.text.value = s;
    this.showError("");
    this.updateAdd();
    const seq = ++this.checkSeq;
    // data-checked names the string the core last answered for (tests wait on it).
    this.validate(s).then(
      () => {
        if (seq === this.checkSeq) this.el.text.dataset.checked = s;
      },
      (e: unknown) => {
        if (seq !== this.checkSeq) return;
        this.showError(e instanceof Error ? e.message : String(e));
        this.el.text.dataset.checked = s;
      },
    );
  }

  private showInForm(f: SchemeFamily, p: Params): void {
    this.fam = f;
    this.params = p;
    this.el.family.value = f.id;
    this.renderOptions();
  }

  private updateAdd(): void {
    this.el.add.disabled = this.el.text.value.trim() === "";
  }

  private renderOptions(): void {
    this.el.grammar.textContent = this.fam.grammar;
    this.el.options.replaceChildren(...visibleOptions(this.fam, this.params).map((o) => this.control(o)));
  }

  private control(o: SchemeOption): HTMLElement {
    const label = document.createElement("label");
    label.className = "option";
    if (o.help) label.title = o.help;
    const name = document.createElement("span");
    name.textContent = o.label;
    let input: HTMLInputElement | HTMLSelectElement;
    const v = this.params[o.key];
    if (o.type === "enum") {
      const select = document.createElement("select");
      select.append(...o.choices.map((c) => new Option(c.label, c.value)));
      select.value = String(v ?? o.default);
      select.addEventListener("change", () => this.setParam(o.key, select.value));
      input = select;
    } else if (o.type === "number") {
      const field = document.createElement("input");
      field.type = "number";
      field.min = String(o.min);
      field.max = String(o.max);
      field.step = String(o.step);
      field.value = v === null || v === undefined ? "" : String(v);
      if (o.default === null) field.placeholder = "default";
      field.addEventListener("change", () => {
        const n = field.value.trim() === "" ? null : Number(field.value);
        this.setParam(o.key, n === null && o.default !== null ? o.default : n);
      });
      input = field;
    } else {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = v === true;
      box.addEventListener("change", () => this.setParam(o.key, box.checked));
      input = box;
    }
    input.dataset.option = o.key;
    label.append(name, input);
    return label;
  }

  private setParam(key: string, value: Params[string]): void {
    this.params = { ...this.params, [key]: value };
    // Which options apply can depend on this one (granularity shows axis or group size).
    this.renderOptions();
    this.fromForm();
  }

  private renderChips(): void {
    const last = this.chosen.length <= 1;
    this.el.chips.replaceChildren(
      ...this.chosen.map((c) => {
        const li = document.createElement("li");
        li.className = "chip";
        li.dataset.scheme = c.scheme;
        li.style.setProperty("--chip", c.color);
        const label = document.createElement("button");
        label.type = "button";
        label.className = "chip-label";
        label.title = "Load into the form to make a variant";
        label.textContent = c.scheme;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "chip-remove";
        remove.textContent = "×";
        remove.setAttribute("aria-label", `Remove ${c.scheme}`);
        remove.disabled = last;
        li.append(label, remove);
        return li;
      }),
    );
    this.el.chips.dataset.count = String(this.chosen.length);
  }
}
