// The drop zone and the file input behind it.

export function setupDropZone(
  zone: HTMLElement,
  input: HTMLInputElement,
  onFile: (file: File) => void,
): void {
  input.addEventListener("change", () => {
    const file = input.files?.[0];
    // Reset so that choosing the same file again fires another change.
    input.value = "";
    if (file) onFile(file);
  });
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    const file = e.dataTransfer?.files[0];
    if (file) onFile(file);
  });
}
