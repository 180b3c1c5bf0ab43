// `import "quantscope/element"` defines <quantscope-playground> (../element.ts) with the
// package's workers, and adds the playground's stylesheet to the document once.

import { definePlayground, PLAYGROUND_TAG } from "../element";
import { packageSpawners } from "./spawn";

export { PLAYGROUND_TAG };

const STYLE_ID = "quantscope-playground-style";
if (!document.getElementById(STYLE_ID)) {
  const link = document.createElement("link");
  link.id = STYLE_ID;
  link.rel = "stylesheet";
  link.href = new URL("./style.css", import.meta.url).href;
  document.head.append(link);
}
definePlayground(packageSpawners);
