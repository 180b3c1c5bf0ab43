// The scheme picker: chips for the compared schemes (#scheme-chips), a form with the
// options of each family (#scheme-family, #scheme-options) that writes its string into
// the text field (#scheme-text), and Add. The families, their options and every string
// come from the core (through the worker): the form asks the core for a string's family
// and values and for the string its values make. A rejection shows the core's message
// (#scheme-error) and changes nothing.
//
// For tests and scripts, the elements say what the core last answered:
// #scheme-family[data-ready] once the families are loaded, #scheme-family[data-form]
// the text the form now shows (parsed or not), #scheme-text[data-checked] the
// string the form built and the core checked; #scheme-chips[data-max] and
// [data-defaults] the page's limit and default schemes.

import {
  DEFAULT_SCHEMES,
  MAX_SCHEMES,
  type Params,
  type SchemeFamily,
  type SchemeForm,
  type SchemeOption,
  defaults,
  visibleOptions,
} from "../shared/schemes";
import type { FormString } from "../shared/api";
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

/** What the picker asks the core (each rejects with the core's message). */
export interface PickerCore {
  families(): Promise<SchemeFamily[]>;
  /** Canonical form of a string. */
  validate(s: string): Promise<string>;
  /** The family and option values of a string. */
  toForm(s: string): Promise<SchemeForm>;
  /**
   * The string option values make (`text`) and, when the core takes it, its canonical
   * form (`scheme`), else the core's message (`error`).
   */
  fromForm(form: SchemeForm): Promise<FormString>;
}

export class SchemePicker {
  private chosen: Chosen[] = [];
  private families: SchemeFamily[] = [];
  private fam: SchemeFamily | undefined;
  private params: Params = {};
  /** Bumped per validation so that a late answer for older text is dropped. */
  private checkSeq = 0;
  /** Bumped per parse of typed text, likewise. */
  private parseSeq = 0;
  /** Resolves once the families are loaded and the form shows the first one. */
  readonly ready: Promise<void>;

  constructor(
    private readonly el: PickerElements,
    private readonly core: PickerCore,
    private readonly onChange: (chosen: readonly Chosen[]) => void,
  ) {
    el.chips.dataset.max = String(MAX_SCHEMES);
    el.chips.dataset.defaults = DEFAULT_SCHEMES.join(",");
    el.family.addEventListener("change", () => {
      const f = this.family(el.family.value);
      if (!f) return;
      this.fam = f;
      this.params = defaults(f.options);
      this.renderOptions();
      this.fromForm();
    });
    el.text.addEventListener("keydown", (e) => {
      if (e.key === "Enter") void this.submit();
    });
    el.text.addEventListener("input", () => {
      this.showError("");
      // A string the core parses sets the form to it; anything else leaves the form.
      void this.showText(el.text.value);
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
    this.ready = core.families().then((families) => {
      this.families = families;
      el.family.replaceChildren(...families.map((f) => new Option(f.label, f.id)));
      const first = families[0];
      if (first && !this.fam) {
        this.fam = first;
        this.params = defaults(first.options);
        this.renderOptions();
        if (this.el.text.value === "") this.fromForm();
      }
      el.family.dataset.ready = "";
    });
  }

  private family(id: string): SchemeFamily | undefined {
    return this.families.find((f) => f.id === id);
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
    void this.showText(scheme);
    this.updateAdd();
  }

  /** Shows `text` in the form when the core parses it; says which text it answered for. */
  private async showText(text: string): Promise<void> {
    const seq = ++this.parseSeq;
    delete this.el.family.dataset.form;
    await this.ready;
    let form: SchemeForm | undefined;
    try {
      form = await this.core.toForm(text);
    } catch {
      form = undefined;
    }
    if (seq !== this.parseSeq) return;
    const f = form && this.family(form.family);
    if (form && f) this.showInForm(f, { ...defaults(f.options), ...form.params });
    this.el.family.dataset.form = text;
  }

  private async submit(): Promise<void> {
    const raw = this.el.text.value.trim();
    if (raw === "") return;
    const seq = ++this.checkSeq;
    let canonical: string;
    try {
      canonical = await this.core.validate(raw);
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

  /** The form changed: ask the core for its string and write it. */
  private fromForm(): void {
    const fam = this.fam;
    if (!fam) return;
    this.showError("");
    const seq = ++this.checkSeq;
    delete this.el.text.dataset.checked;
    // The typed text the form showed is no longer what it shows.
    this.parseSeq++;
    const form = { family: fam.id, params: this.params };
    // data-checked names the string the core last answered for (tests wait on it).
    this.core.fromForm(form).then(
      (r) => {
        if (seq !== this.checkSeq) return;
        const s = r.scheme ?? r.text;
        this.el.text.value = s;
        this.updateAdd();
        if (r.error !== undefined) this.showError(r.error);
        this.el.text.dataset.checked = s;
      },
      (e: unknown) => {
        if (seq !== this.checkSeq) return;
        this.showError(e instanceof Error ? e.message : String(e));
        this.el.text.dataset.checked = "";
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
    const fam = this.fam;
    if (!fam) return;
    this.el.grammar.textContent = fam.grammar;
    this.el.options.replaceChildren(...visibleOptions(fam, this.params).map((o) => this.control(o)));
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
