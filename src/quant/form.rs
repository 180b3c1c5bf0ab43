//! The scheme grammar as a form, for the page's picker: every family with its options,
//! their choices and defaults ([`families`]); a scheme as its family and option values
//! ([`to_form`]); and option values back to a scheme ([`from_form`]), which writes the
//! tokens and hands them to the one parser ([`Scheme`]'s `FromStr`), so that validation
//! and the canonical string have a single home. The page builds its picker from this and
//! parses nothing itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::convention::Convention;
use super::float::FloatFormat;
use super::ggml::GgmlType;
use super::linear::{Granularity, LinearScheme};
use super::mixed::OutlierRule;
use super::nf4::FourBitFormat;
use super::range::{RangeMethod, DEFAULT_PERCENTILE};
use super::rounding::Rounding;
use super::scheme::Scheme;
use super::vq::VqMethod;
use crate::error::{Error, Result};

/// One choice of an enum option: the value the form holds and what the picker shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// What kind of field an option is, with its default.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum OptionKind {
    Enum {
        choices: Vec<Choice>,
        default: String,
    },
    /// `default: None`: the field may stay empty, which leaves the value to the scheme's
    /// own default.
    Number {
        min: f64,
        max: f64,
        step: f64,
        default: Option<f64>,
    },
    Bool {
        default: bool,
    },
}

/// An option is shown only when another option holds one of some values.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct Show {
    pub key: String,
    #[serde(rename = "anyOf")]
    pub any_of: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct FormOption {
    pub key: String,
    pub label: String,
    #[cfg_attr(feature = "ts-types", ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(flatten)]
    pub kind: OptionKind,
    #[cfg_attr(feature = "ts-types", ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show: Option<Show>,
}

/// A scheme family as the picker lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct Family {
    pub id: String,
    pub label: String,
    /// The family's grammar line (docs/SCHEMES.md).
    pub grammar: String,
    pub options: Vec<FormOption>,
}

/// An option's value: enums are strings, numbers may be null (left to the scheme).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Number(f64),
    Text(String),
    Null,
}

/// A scheme as a family and the values of its options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct Form {
    pub family: String,
    pub params: BTreeMap<String, Value>,
}

fn choice(value: &str, label: &str) -> Choice {
    Choice {
        value: value.into(),
        label: label.into(),
    }
}

fn same(values: &[&str]) -> Vec<Choice> {
    values.iter().map(|v| choice(v, v)).collect()
}

fn opt(key: &str, label: &str, kind: OptionKind) -> FormOption {
    FormOption {
        key: key.into(),
        label: label.into(),
        help: None,
        kind,
        show: None,
    }
}

fn enum_of(choices: Vec<Choice>, default: &str) -> OptionKind {
    OptionKind::Enum {
        choices,
        default: default.into(),
    }
}

fn number(min: f64, max: f64, step: f64, default: Option<f64>) -> OptionKind {
    OptionKind::Number {
        min,
        max,
        step,
        default,
    }
}

impl FormOption {
    fn help(mut self, help: &str) -> Self {
        self.help = Some(help.into());
        self
    }

    fn when(mut self, key: &str, any_of: &[&str]) -> Self {
        self.show = Some(Show {
            key: key.into(),
            any_of: any_of.iter().map(|s| s.to_string()).collect(),
        });
        self
    }
}

/// The code widths the linear family takes (2 to 8, and 16).
const LINEAR_BITS: [&str; 8] = ["2", "3", "4", "5", "6", "7", "8", "16"];

fn linear_options() -> Vec<FormOption> {
    vec![
        opt(
            "signed",
            "codes",
            enum_of(
                vec![
                    choice("int", "signed (int)"),
                    choice("uint", "unsigned (uint)"),
                ],
                "int",
            ),
        ),
        opt("bits", "bits", enum_of(same(&LINEAR_BITS), "8")),
        opt(
            "mode",
            "range",
            enum_of(
                vec![
                    choice("sym", "symmetric"),
                    choice("asym", "asymmetric (zero point)"),
                ],
                "sym",
            ),
        ),
        opt(
            "granularity",
            "granularity",
            enum_of(
                vec![
                    choice("tensor", "per tensor"),
                    choice("ch", "per channel"),
                    choice("group", "per group"),
                ],
                "tensor",
            ),
        ),
        opt("axis", "axis", number(0.0, 7.0, 1.0, Some(0.0)))
            .help("the axis the channels run along")
            .when("granularity", &["ch"]),
        opt(
            "group",
            "group size",
            number(1.0, 65536.0, 1.0, Some(128.0)),
        )
        .when("granularity", &["group"]),
        opt("groupAxis", "group axis", number(0.0, 7.0, 1.0, None))
            .help("empty: the last axis")
            .when("granularity", &["group"]),
        opt(
            "estimator",
            "clipping",
            enum_of(
                vec![
                    choice("minmax", "min-max"),
                    choice("pct", "percentile"),
                    choice("mse", "MSE-optimal"),
                    choice("kl", "entropy (KL)"),
                ],
                "minmax",
            ),
        ),
        opt(
            "percentile",
            "percentile",
            number(50.0, 100.0, 0.001, Some(DEFAULT_PERCENTILE)),
        )
        .when("estimator", &["pct"]),
        opt(
            "rounding",
            "rounding",
            enum_of(
                vec![
                    choice("rne", "half to even"),
                    choice("rna", "half away from zero"),
                    choice("sr", "stochastic"),
                ],
                "rne",
            ),
        ),
        opt("seed", "seed", number(0.0, u32::MAX as f64, 1.0, Some(0.0))).when("rounding", &["sr"]),
    ]
}

fn preset_options() -> Vec<FormOption> {
    let tools: Vec<Choice> = Convention::TOOLS
        .iter()
        .map(|c| {
            let label = match c {
                Convention::Ort => "ONNX Runtime",
                Convention::Torch => "PyTorch",
                Convention::Tflite => "TFLite",
                Convention::Tfjs => "TF.js",
                Convention::Plain => "plain",
            };
            choice(&c.to_string(), label)
        })
        .collect();
    let mut options = vec![opt("tool", "convention", enum_of(tools, "torch"))];
    for mut o in linear_options() {
        if let OptionKind::Enum { choices, default } = &mut o.kind {
            match o.key.as_str() {
                // The tools with one symmetry leave it out of the string.
                "mode" => choices.insert(0, choice("", "tool's default")),
                // Presets are mostly per channel.
                "granularity" => *default = "ch".into(),
                _ => {}
            }
        }
        options.push(o);
    }
    options.push(
        opt(
            "reduced",
            "reduce_range",
            OptionKind::Bool { default: false },
        )
        .help("ONNX Runtime's 7-bit range for int8")
        .when("tool", &["ort"]),
    );
    options
}

/// Every scheme family, in the order the picker lists them.
pub fn families() -> Vec<Family> {
    let family = |id: &str, label: &str, grammar: &str, options: Vec<FormOption>| Family {
        id: id.into(),
        label: label.into(),
        grammar: grammar.into(),
        options,
    };
    let ggml: Vec<&str> = GgmlType::QUANTIZABLE.iter().map(|t| t.name()).collect();
    let floats: Vec<&str> = FloatFormat::ALL.iter().map(|f| f.name()).collect();
    // Code widths with the sign bit: pot takes 2..=8, apot 3..=6 (the parser says which).
    let log_bits = ["2", "3", "4", "5", "6", "7", "8"];
    vec![
        family(
            "linear",
            "Linear (int / uint)",
            "{int|uint}<bits>-{sym|asym}[-tensor|-ch<axis>|-group<size>[-ax<axis>]][-minmax|-pct<p>|-mse|-kl][-rne|-rna|-sr<seed>]",
            linear_options(),
        ),
        family(
            "preset",
            "Tool convention",
            "{ort|torch|tflite|tfjs}-<linear string>[-reduced]",
            preset_options(),
        ),
        family(
            "ggml",
            "ggml blocks",
            &ggml.join(" | "),
            vec![opt("type", "type", enum_of(same(&ggml), "q4_0"))],
        ),
        family(
            "nf4",
            "NF4 / FP4",
            "{nf4|fp4}[-b<block>]",
            vec![
                opt("type", "type", enum_of(same(&["nf4", "fp4"]), "nf4")),
                opt(
                    "block",
                    "block",
                    number(1.0, 65536.0, 1.0, Some(super::nf4::DEFAULT_BLOCK as f64)),
                ),
            ],
        ),
        family(
            "float",
            "Float casts",
            &floats.join(" | "),
            vec![opt("type", "format", enum_of(same(&floats), "fp8-e4m3"))],
        ),
        family(
            "log",
            "Power of two",
            "{pot|apot}<bits>[-e<min>_<max>]",
            vec![
                opt(
                    "type",
                    "type",
                    enum_of(
                        vec![
                            choice("pot", "powers of two"),
                            choice("apot", "sums of two powers (APoT)"),
                        ],
                        "pot",
                    ),
                ),
                opt("bits", "bits", enum_of(same(&log_bits), "4")),
                opt(
                    "exponents",
                    "exponents",
                    enum_of(
                        vec![
                            choice("auto", "from the data"),
                            choice("fixed", "fixed range"),
                        ],
                        "auto",
                    ),
                ),
                // pot4's 7 exponents: the default a fixed range starts from is valid.
                opt("emin", "min exp", number(-126.0, 127.0, 1.0, Some(-6.0)))
                    .when("exponents", &["fixed"]),
                opt("emax", "max exp", number(-126.0, 127.0, 1.0, Some(0.0)))
                    .when("exponents", &["fixed"]),
            ],
        ),
        family(
            "vq",
            "Clustering / vector",
            "kmeans<k>[-s<seed>][-it<n>] | kmeansdp<k> | pq<k>x<d>[-s<seed>]",
            vec![
                opt(
                    "method",
                    "method",
                    enum_of(
                        vec![
                            choice("kmeans", "k-means (Lloyd)"),
                            choice("kmeansdp", "optimal 1-D k-means"),
                            choice("pq", "product quantization"),
                        ],
                        "kmeans",
                    ),
                ),
                opt("k", "centroids", number(2.0, 256.0, 1.0, Some(16.0))),
                opt("d", "sub-vector", enum_of(same(&["2", "4", "8"]), "4"))
                    .when("method", &["pq"]),
                opt("seed", "seed", number(0.0, u32::MAX as f64, 1.0, None))
                    .help("empty: the core's default")
                    .when("method", &["kmeans", "pq"]),
                opt("iterations", "iterations", number(1.0, 1000.0, 1.0, None))
                    .help("empty: the core's default")
                    .when("method", &["kmeans"]),
            ],
        ),
        family(
            "mixed",
            "Mixed INT8 + FP16",
            "mixed-int8-fp16-{t<threshold>|top<percent>}",
            vec![
                opt(
                    "rule",
                    "outliers",
                    enum_of(
                        vec![
                            choice("t", "|x| above a threshold"),
                            choice("top", "top k % of columns"),
                        ],
                        "t",
                    ),
                ),
                opt("threshold", "threshold", number(0.0, 1e6, 0.1, Some(6.0)))
                    .when("rule", &["t"]),
                opt("percent", "percent", number(0.0, 100.0, 0.1, Some(1.0)))
                    .when("rule", &["top"]),
            ],
        ),
    ]
}

fn text(v: &str) -> Value {
    Value::Text(v.into())
}

fn num(v: f64) -> Value {
    Value::Number(v)
}

/// The family and option values of a scheme; every option of the family has a value.
pub fn to_form(scheme: &Scheme) -> Form {
    let mut p: BTreeMap<String, Value> = BTreeMap::new();
    let mut set = |k: &str, v: Value| {
        p.insert(k.to_string(), v);
    };
    let family = match scheme {
        Scheme::Linear(l) => {
            linear_form(l, &mut set);
            if l.convention == Convention::Plain {
                "linear"
            } else {
                set("tool", text(&l.convention.to_string()));
                if !l.convention.writes_symmetry() {
                    set("mode", text(""));
                }
                set("reduced", Value::Bool(l.reduce_range));
                "preset"
            }
        }
        Scheme::Ggml(g) => {
            set("type", text(g.format.name()));
            "ggml"
        }
        Scheme::FourBit(s) => {
            let name = match s.format {
                FourBitFormat::Nf4 => "nf4",
                FourBitFormat::Fp4 => "fp4",
            };
            set("type", text(name));
            set("block", num(s.block as f64));
            "nf4"
        }
        Scheme::Float(s) => {
            set("type", text(s.format.name()));
            "float"
        }
        Scheme::Log(s) => {
            set("type", text(if s.additive { "apot" } else { "pot" }));
            set("bits", text(&s.bits.to_string()));
            let (lo, hi) = s.exponents.unwrap_or((-6, 0));
            set(
                "exponents",
                text(if s.exponents.is_some() {
                    "fixed"
                } else {
                    "auto"
                }),
            );
            set("emin", num(lo as f64));
            set("emax", num(hi as f64));
            "log"
        }
        Scheme::Vq(s) => {
            let method = match s.method {
                VqMethod::Kmeans => "kmeans",
                VqMethod::KmeansDp => "kmeansdp",
                VqMethod::Pq => "pq",
            };
            set("method", text(method));
            set("k", num(s.k as f64));
            set(
                "d",
                text(&if s.method == VqMethod::Pq { s.dim } else { 4 }.to_string()),
            );
            set(
                "seed",
                if s.method == VqMethod::KmeansDp {
                    Value::Null
                } else {
                    num(s.seed as f64)
                },
            );
            set(
                "iterations",
                if s.method == VqMethod::Kmeans {
                    num(s.iters as f64)
                } else {
                    Value::Null
                },
            );
            "vq"
        }
        Scheme::Mixed(s) => {
            let (rule, t, pct) = match s.outliers {
                OutlierRule::Threshold(t) => ("t", t as f64, 1.0),
                OutlierRule::TopPercent(p) => ("top", 6.0, p as f64),
            };
            set("rule", text(rule));
            set("threshold", num(short(t)));
            set("percent", num(short(pct)));
            "mixed"
        }
    };
    Form {
        family: family.into(),
        params: p,
    }
}

/// An f32 parameter widened to f64 as its shortest decimal reads (0.1f32 -> 0.1, not
/// 0.10000000149011612), so the form shows what the string says.
fn short(v: f64) -> f64 {
    (v as f32).to_string().parse().unwrap_or(v)
}

fn linear_form(l: &LinearScheme, set: &mut impl FnMut(&str, Value)) {
    set("signed", text(if l.signed { "int" } else { "uint" }));
    set("bits", text(&l.bits.to_string()));
    set("mode", text(if l.symmetric { "sym" } else { "asym" }));
    let (gran, axis, group, group_axis) = match l.granularity {
        Granularity::PerTensor => ("tensor", 0, 128, None),
        Granularity::PerChannel { axis } => ("ch", axis, 128, None),
        Granularity::PerGroup { size, axis } => ("group", 0, size, axis),
    };
    set("granularity", text(gran));
    set("axis", num(axis as f64));
    set("group", num(group as f64));
    set(
        "groupAxis",
        group_axis.map_or(Value::Null, |a| num(a as f64)),
    );
    let (est, pct) = match l.range {
        RangeMethod::MinMax => ("minmax", DEFAULT_PERCENTILE),
        RangeMethod::Percentile { percentile } => ("pct", percentile),
        RangeMethod::Mse => ("mse", DEFAULT_PERCENTILE),
        RangeMethod::Kl => ("kl", DEFAULT_PERCENTILE),
    };
    set("estimator", text(est));
    set("percentile", num(pct));
    let (rounding, seed) = match l.rounding {
        Rounding::HalfEven => ("rne", 0),
        Rounding::HalfAway => ("rna", 0),
        Rounding::Stochastic { seed } => ("sr", seed),
    };
    set("rounding", text(rounding));
    set("seed", num(seed as f64));
}

/// Reads option values, each checked against the kind of value it must be.
struct Params<'a> {
    family: &'a str,
    p: &'a BTreeMap<String, Value>,
}

impl Params<'_> {
    fn bad(&self, key: &str, want: &str) -> Error {
        Error::BadScheme {
            spec: format!("{} form", self.family),
            reason: format!("option `{key}`: expected {want}, got {:?}", self.p.get(key)),
        }
    }

    fn text(&self, key: &str) -> Result<&str> {
        match self.p.get(key) {
            Some(Value::Text(s)) => Ok(s),
            _ => Err(self.bad(key, "a string")),
        }
    }

    /// A number as the grammar writes it, or None when the field was left empty.
    fn number(&self, key: &str) -> Result<Option<String>> {
        match self.p.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.is_finite() => Ok(Some(format!("{n}"))),
            _ => Err(self.bad(key, "a number")),
        }
    }

    fn number_or(&self, key: &str, default: &str) -> Result<String> {
        Ok(self.number(key)?.unwrap_or_else(|| default.to_string()))
    }

    fn flag(&self, key: &str) -> Result<bool> {
        match self.p.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            _ => Err(self.bad(key, "true or false")),
        }
    }
}

/// The linear tokens of a form (without a tool prefix): `{int|uint}<bits>[-<mode>]...`.
fn linear_tokens(p: &Params) -> Result<String> {
    let mut s = format!("{}{}", p.text("signed")?, p.text("bits")?);
    let mode = p.text("mode")?;
    if !mode.is_empty() {
        s += &format!("-{mode}");
    }
    match p.text("granularity")? {
        "tensor" => {}
        "ch" => s += &format!("-ch{}", p.number_or("axis", "0")?),
        "group" => {
            s += &format!("-group{}", p.number_or("group", "128")?);
            if let Some(a) = p.number("groupAxis")? {
                s += &format!("-ax{a}");
            }
        }
        other => return Err(p.bad("granularity", &format!("tensor, ch or group, not {other}"))),
    }
    if p.flag("reduced")? {
        s += "-reduced";
    }
    match p.text("estimator")? {
        "minmax" => {}
        "pct" => {
            s += &format!(
                "-pct{}",
                p.number_or("percentile", &DEFAULT_PERCENTILE.to_string())?
            )
        }
        e => s += &format!("-{e}"),
    }
    match p.text("rounding")? {
        "rne" => {}
        "sr" => s += &format!("-sr{}", p.number_or("seed", "0")?),
        r => s += &format!("-{r}"),
    }
    Ok(s)
}

/// The scheme a form describes, parsed and checked by the grammar; errors are the
/// parser's own, naming the string the form made.
pub fn from_form(form: &Form) -> Result<Scheme> {
    form_string(form)?.parse()
}

/// The string of grammar tokens a form's values make, before the parser has checked it
/// (an error only for values of the wrong kind or an unknown family).
pub fn form_string(form: &Form) -> Result<String> {
    let p = Params {
        family: &form.family,
        p: &form.params,
    };
    let s = match form.family.as_str() {
        "linear" => linear_tokens(&p)?,
        "preset" => {
            let tool = p.text("tool")?;
            // reduce_range belongs to ONNX Runtime; the option is hidden for the others.
            let mut q = form.params.clone();
            if tool != "ort" {
                q.remove("reduced");
            }
            let lp = Params {
                family: &form.family,
                p: &q,
            };
            format!("{tool}-{}", linear_tokens(&lp)?)
        }
        "ggml" | "float" => p.text("type")?.to_string(),
        "nf4" => format!("{}-b{}", p.text("type")?, p.number_or("block", "64")?),
        "log" => {
            let mut s = format!("{}{}", p.text("type")?, p.text("bits")?);
            if p.text("exponents")? == "fixed" {
                s += &format!(
                    "-e{}_{}",
                    p.number_or("emin", "-6")?,
                    p.number_or("emax", "0")?
                );
            }
            s
        }
        "vq" => {
            let k = p.number_or("k", "16")?;
            let seed = p
                .number("seed")?
                .map(|v| format!("-s{v}"))
                .unwrap_or_default();
            match p.text("method")? {
                "kmeansdp" => format!("kmeansdp{k}"),
                "pq" => format!("pq{k}x{}{seed}", p.text("d")?),
                _ => {
                    let it = p
                        .number("iterations")?
                        .map(|v| format!("-it{v}"))
                        .unwrap_or_default();
                    format!("kmeans{k}{seed}{it}")
                }
            }
        }
        "mixed" => match p.text("rule")? {
            "top" => format!("mixed-int8-fp16-top{}", p.number_or("percent", "1")?),
            _ => format!("mixed-int8-fp16-t{}", p.number_or("threshold", "6")?),
        },
        other => {
            return Err(Error::BadScheme {
                spec: other.to_string(),
                reason: "no such scheme family".into(),
            })
        }
    };
    Ok(s)
}

/// What a form's values make: the string of tokens and, when the grammar takes it, its
/// canonical form, else the parser's message.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct FormString {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts-types", ts(optional))]
    pub scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts-types", ts(optional))]
    pub error: Option<String>,
}

/// The picker's question: the string a form makes, checked by the parser; an error only
/// for a form that is not one (an unknown family, a value of the wrong kind).
pub fn answer(form: &Form) -> Result<FormString> {
    let text = form_string(form)?;
    let (scheme, error) = match text.parse::<Scheme>() {
        Ok(s) => (Some(s.to_string()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(FormString {
        text,
        scheme,
        error,
    })
}

/// Canonical strings across every family and option: each family's defaults, then
/// each enum option's every choice on top of them (combinations the grammar refuses
/// are left out). What the page's round-trip test feeds the picker.
pub fn examples() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: Scheme| {
        let c = s.to_string();
        if !out.contains(&c) {
            out.push(c);
        }
    };
    for f in families() {
        let base: BTreeMap<String, Value> = f
            .options
            .iter()
            .map(|o| {
                let v = match &o.kind {
                    OptionKind::Enum { default, .. } => text(default),
                    OptionKind::Number { default, .. } => default.map_or(Value::Null, num),
                    OptionKind::Bool { default } => Value::Bool(*default),
                };
                (o.key.clone(), v)
            })
            .collect();
        let form = |params: BTreeMap<String, Value>| Form {
            family: f.id.clone(),
            params,
        };
        if let Ok(s) = from_form(&form(base.clone())) {
            push(s);
        }
        for o in &f.options {
            let values: Vec<Value> = match &o.kind {
                OptionKind::Enum { choices, .. } => {
                    choices.iter().map(|c| text(&c.value)).collect()
                }
                OptionKind::Bool { .. } => vec![Value::Bool(true)],
                // A value away from the default, and the empty field where allowed.
                OptionKind::Number { min, default, .. } => {
                    let mut v = vec![num((min + 3.0).min(default.unwrap_or(min + 3.0) + 3.0))];
                    if default.is_none() {
                        v.push(Value::Null);
                    }
                    v
                }
            };
            for v in values {
                let mut p = base.clone();
                p.insert(o.key.clone(), v);
                // Show the option: set what it depends on.
                if let Some(show) = &o.show {
                    p.insert(show.key.clone(), text(&show.any_of[0]));
                }
                if let Ok(s) = from_form(&form(p)) {
                    push(s);
                }
            }
        }
    }
    // Strings the grammar orders its own way (tokens given in another order).
    for s in [
        "ort-int8-sym-ch0-reduced-kl",
        "ort-int8-sym-ch0-reduced-pct99.9",
        "ort-uint8-asym-reduced",
        "int4-sym-group32-ax0-sr7",
        "uint8-asym-pct99.9-rna",
        "kmeans16-s3-it20",
        "pq256x8-s1",
        "apot5-e-10_-2",
        "mixed-int8-fp16-top0.5",
        "tfjs-uint8",
        "tfjs-uint16",
        "tflite-int8",
        "torch-uint8-asym",
        "uint4-asym-group32",
        "int4-asym-group128-ax0-kl",
        "nf4-b128",
        "fp4-b32",
        "pot8-e-100_20",
    ] {
        if let Ok(s) = s.parse() {
            push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::vq::DEFAULT_ITERS;

    #[test]
    fn every_example_round_trips_through_its_form() {
        let examples = examples();
        assert!(examples.len() > 60, "{} examples", examples.len());
        for s in &examples {
            let scheme: Scheme = s.parse().unwrap();
            let form = to_form(&scheme);
            let back = from_form(&form).unwrap_or_else(|e| panic!("{s}: {e} ({form:?})"));
            assert_eq!(&back.to_string(), s, "{form:?}");
            // Every option of the family has a value in the form.
            let family = families()
                .into_iter()
                .find(|f| f.id == form.family)
                .unwrap();
            for o in &family.options {
                assert!(form.params.contains_key(&o.key), "{s}: no `{}`", o.key);
            }
        }
        assert!(examples.iter().any(|s| s == "ort-int8-sym-ch0-reduced-kl"));
    }

    #[test]
    fn defaults_and_choices_come_from_the_core_tables() {
        let fams = families();
        let ggml = fams.iter().find(|f| f.id == "ggml").unwrap();
        let OptionKind::Enum { choices, .. } = &ggml.options[0].kind else {
            panic!()
        };
        assert_eq!(choices.len(), GgmlType::QUANTIZABLE.len());
        let vq = fams.iter().find(|f| f.id == "vq").unwrap();
        let it = vq.options.iter().find(|o| o.key == "iterations").unwrap();
        assert!(matches!(it.kind, OptionKind::Number { default: None, .. }));
        let kmeans: Scheme = "kmeans16".parse().unwrap();
        assert_eq!(
            to_form(&kmeans).params["iterations"],
            Value::Number(DEFAULT_ITERS as f64)
        );
    }

    #[test]
    fn a_form_the_grammar_refuses_gets_the_parsers_reason() {
        let mut f = to_form(&"tflite-int8-ch0".parse().unwrap());
        f.params.insert("mode".into(), text("asym"));
        let e = from_form(&f).unwrap_err().to_string();
        assert!(e.contains("symmetric int8"), "{e}");
        f.params.insert("bits".into(), Value::Bool(true));
        assert!(from_form(&f).unwrap_err().to_string().contains("`bits`"));
    }
}
