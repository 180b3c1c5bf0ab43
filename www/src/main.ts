// The app: its page is one <quantscope-playground> (index.html), defined here with the
// workers Vite builds.

import { definePlayground } from "./element";
import { appSpawners } from "./spawn";

definePlayground(appSpawners);
