// Scheme families, their options and defaults, as the core describes them
// (`schemeFamilies`, src/quant/form.rs). The core is the only parser and printer of the
// scheme grammar: the picker asks it for a string's family and option values
// (`schemeForm`) and for the string a form makes (`schemeFromForm`); nothing here reads
// or writes scheme strings.

import type { Family, Form, FormOption, Value } from "./core-types";

/** A parameter value: enums are strings, optional numbers are null when left to the core. */
export type ParamValue = Value;
export type Params = Record<string, ParamValue>;

/** One option of a family (`FormOption`): an enum, a number or a checkbox. */
export type SchemeOption = FormOption;
export type EnumOption = Extract<SchemeOption, { type: "enum" }>;
export type NumberOption = Extract<SchemeOption, { type: "number" }>;

/** A scheme family as the core lists it (`Family`). */
export type SchemeFamily = Family;

/** A scheme as its family and option values (the core's `Form`). */
export type SchemeForm = Form;

export function defaults(options: readonly SchemeOption[]): Params {
  return Object.fromEntries(options.map((o) => [o.key, o.default]));
}

/** Options of a family that apply given the current values. */
export function visibleOptions(f: SchemeFamily, p: Params): SchemeOption[] {
  return f.options.filter((o) => !o.show || o.show.anyOf.includes(String(p[o.show.key] ?? "")));
}

/** How many schemes the page compares at once (one colour each). */
export const MAX_SCHEMES = 6;

/**
 * What the page compares when the URL names nothing. A default the core rejects (a
 * family not in this build) is dropped without a message.
 */
export const DEFAULT_SCHEMES: readonly string[] = ["int8-sym-ch0", "int4-sym-ch0", "int4-asym-group128"];
