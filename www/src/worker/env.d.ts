// Vite's `?url` imports and `import.meta.glob`, declared here so the worker needs no
// DOM-typed client types.
/// <reference types="vite/types/importMeta.d.ts" />

declare module "*?url" {
  const url: string;
  export default url;
}
