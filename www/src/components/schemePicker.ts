// The scheme picker: a select of presets (#scheme) and a free text field
// (#scheme-text) checked by the core's parser before it is applied.

const CUSTOM = "__custom__";

export class SchemePicker {
  private presets: string[] = [];
  private value = "";

  constructor(
    private readonly select: HTMLSelectElement,
    private readonly text: HTMLInputElement,
    private readonly message: HTMLElement,
    /** Canonical form of the text, or a rejection carrying the core's message. */
    private readonly validate: (s: string) => Promise<string>,
    private readonly onChange: (scheme: string) => void,
  ) {
    select.addEventListener("change", () => {
      if (select.value !== CUSTOM) this.apply(select.value);
      else text.focus();
    });
    text.addEventListener("keydown", (e) => {
      if (e.key === "Enter") void this.submitText();
    });
    text.addEventListener("change", () => void this.submitText());
    text.addEventListener("input", () => this.showError(""));
  }

  setPresets(presets: string[]): void {
    this.presets = presets;
    this.render();
  }

  get scheme(): string {
    return this.value;
  }

  /** Shows a scheme without announcing it (the caller already knows). */
  set(scheme: string): void {
    this.value = scheme;
    this.text.value = scheme;
    this.showError("");
    this.render();
  }

  showError(message: string): void {
    this.message.textContent = message;
    this.text.setAttribute("aria-invalid", String(message !== ""));
  }

  private apply(scheme: string): void {
    if (scheme === this.value) return;
    this.set(scheme);
    this.onChange(scheme);
  }

  private async submitText(): Promise<void> {
    const raw = this.text.value.trim();
    if (raw === "" || raw === this.value) return;
    try {
      this.apply(await this.validate(raw));
    } catch (e) {
      this.showError(e instanceof Error ? e.message : String(e));
    }
  }

  private render(): void {
    const options = [...this.presets];
    const custom = this.value !== "" && !options.includes(this.value);
    const nodes = options.map((p) => new Option(p, p));
    // The text field shows the custom scheme itself; the select only says it is one.
    nodes.push(new Option(custom ? "custom" : "custom…", CUSTOM));
    this.select.replaceChildren(...nodes);
    this.select.value = custom || this.value === "" ? CUSTOM : this.value;
  }
}
