// Vite's `?url` imports, declared here so the worker needs no DOM-typed client types.
declare module "*?url" {
  const url: string;
  export default url;
}
