// The page-wide error message (#error, role=alert).

export class ErrorBanner {
  constructor(private readonly el: HTMLElement) {}

  show(message: string): void {
    this.el.textContent = message;
    this.el.hidden = false;
  }

  clear(): void {
    this.el.textContent = "";
    this.el.hidden = true;
  }
}

/** The message of anything thrown, including errors that crossed the worker boundary. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "object" && e !== null && "message" in e) return String(e.message);
  return String(e);
}
