// The drop zone and the file input behind it. Several files dropped or chosen together
// open as one model.

export function setupDropZone(
  zone: HTMLElement,
  input: HTMLInputElement,
  onFiles: (files: File[]) => void,
): void {
  input.addEventListener("change", () => {
    const files = [...(input.files ?? [])];
    // Reset so that choosing the same file again fires another change.
    input.value = "";
    if (files.length > 0) onFiles(files);
  });
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length > 0) onFiles(files);
  });
}
