// One colour per compared scheme (a scheme keeps its colour while it stays chosen),
// and the neutral colours of what is not a scheme's.

import { MAX_SCHEMES } from "../shared/schemes";

/** Distinct on white and for the common colour-vision deficiencies (Tableau 10's first six). */
export const SCHEME_COLORS: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#9c6ab3",
  "#2b9c94",
];

if (SCHEME_COLORS.length < MAX_SCHEMES) throw new Error("fewer colours than schemes");

/** The weight histogram's bars: grey, so that each scheme's grid stands out over them. */
export const NEUTRAL = "#a9b4c0";

/** A scheme as the page shows it: the core's canonical string and its colour. */
export interface Chosen {
  scheme: string;
  color: string;
}
