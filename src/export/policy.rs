//! Which scheme each tensor of an export gets: one scheme for every weight, or a
//! per-tensor policy (the automatic search's mix, read back from its JSON file by
//! `quantscope quantize --policy FILE`).
//!
//! The policy file:
//! ```json
//! {"format": "quantscope-policy", "version": 1,
//!  "tensors": {"encoder.0.q.weight": "int4-sym-ch1", "encoder.0.k.weight": "float"}}
//! ```
//! Every scheme string is a canonical one (`quantscope quantize --scheme` takes it);
//! `float` keeps the tensor. Tensors the policy does not name are written as they are.
//! Other keys (the search's objective, budget, ...) are carried for people and ignored.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::quant::Scheme;
use crate::tensor::TensorInfo;

/// A scheme per tensor name (None: keep float).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorPolicy {
    pub tensors: BTreeMap<String, Option<Scheme>>,
}

pub const POLICY_FORMAT: &str = "quantscope-policy";

impl TensorPolicy {
    /// Reads a policy file, checking every scheme string.
    pub fn from_json(text: &str) -> Result<TensorPolicy> {
        let bad = |why: String| Error::Invalid(format!("policy file: {why}"));
        let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad("expected a JSON object".into()))?;
        match obj.get("format").and_then(Value::as_str) {
            Some(POLICY_FORMAT) => {}
            other => {
                return Err(bad(format!(
                    "`format` is {other:?}, expected \"{POLICY_FORMAT}\" (written by `quantscope auto --policy-out`)"
                )))
            }
        }
        match obj.get("version").and_then(Value::as_u64) {
            Some(1) => {}
            other => return Err(bad(format!("`version` is {other:?}; this build reads 1"))),
        }
        let tensors = obj
            .get("tensors")
            .and_then(Value::as_object)
            .ok_or_else(
                || bad("no `tensors` object (tensor name -> scheme or \"float\")".into()),
            )?;
        let mut out = BTreeMap::new();
        for (name, s) in tensors {
            let s = s.as_str().ok_or_else(|| {
                bad(format!(
                    "tensor `{name}`: expected a scheme string or \"float\", got {s}"
                ))
            })?;
            let scheme = if s.eq_ignore_ascii_case("float") {
                None
            } else {
                Some(
                    s.parse::<Scheme>()
                        .map_err(|e| bad(format!("tensor `{name}`: {e}")))?,
                )
            };
            out.insert(name.clone(), scheme);
        }
        if out.is_empty() {
            return Err(bad("`tensors` is empty".into()));
        }
        Ok(TensorPolicy { tensors: out })
    }

    /// The file's JSON, with `extra` keys (objective, budget, ...) beside the tensors.
    pub fn to_json(&self, extra: &[(&str, Value)]) -> String {
        let mut v = json!({"format": POLICY_FORMAT, "version": 1});
        for (k, x) in extra {
            v[*k] = x.clone();
        }
        let tensors: serde_json::Map<String, Value> = self
            .tensors
            .iter()
            .map(|(n, s)| {
                let s = s.as_ref().map(|s| s.to_string()).unwrap_or("float".into());
                (n.clone(), Value::String(s))
            })
            .collect();
        v["tensors"] = Value::Object(tensors);
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    }

    /// Policy names that are not among `tensors` (an error for a writer to report).
    pub fn unknown(&self, tensors: &[TensorInfo]) -> Vec<String> {
        self.tensors
            .keys()
            .filter(|n| !tensors.iter().any(|t| &t.name == *n))
            .cloned()
            .collect()
    }
}

/// What a writer applies: one scheme to every weight, or a policy per tensor.
#[derive(Clone, Copy, Debug)]
pub enum Assign<'a> {
    All(&'a Scheme),
    PerTensor(&'a TensorPolicy),
}

/// What one tensor gets.
#[derive(Clone, Copy, Debug)]
pub enum Pick<'a> {
    Quantize(&'a Scheme),
    /// Written as it is, and why.
    Keep(&'static str),
}

impl<'a> Assign<'a> {
    pub fn pick(&self, name: &str) -> Pick<'a> {
        match self {
            Assign::All(s) => Pick::Quantize(s),
            Assign::PerTensor(p) => match p.tensors.get(name) {
                Some(Some(s)) => Pick::Quantize(s),
                Some(None) => Pick::Keep("kept float: the policy says float"),
                None => Pick::Keep("kept as it is: the policy does not name it"),
            },
        }
    }

    /// The report's `scheme`: the scheme string, or `policy` for a per-tensor policy.
    pub fn label(&self) -> String {
        match self {
            Assign::All(s) => s.to_string(),
            Assign::PerTensor(_) => "policy".into(),
        }
    }

    /// Every distinct scheme the writer may apply.
    pub fn schemes(&self) -> Vec<&'a Scheme> {
        match self {
            Assign::All(s) => vec![*s],
            Assign::PerTensor(p) => {
                let mut v: Vec<&Scheme> = Vec::new();
                for s in p.tensors.values().flatten() {
                    if !v.contains(&s) {
                        v.push(s);
                    }
                }
                v
            }
        }
    }

    /// Refuses a policy naming tensors the model lacks (a policy made for another model).
    pub fn check(&self, tensors: &[TensorInfo]) -> Result<()> {
        if let Assign::PerTensor(p) = self {
            let unknown = p.unknown(tensors);
            if !unknown.is_empty() {
                let shown: Vec<&str> = unknown.iter().take(5).map(String::as_str).collect();
                return Err(Error::Invalid(format!(
                    "the policy names {} tensor(s) this model does not have: {}{}",
                    unknown.len(),
                    shown.join(", "),
                    if unknown.len() > 5 { ", ..." } else { "" }
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_files() {
        let mut p = TensorPolicy::default();
        p.tensors
            .insert("a".into(), Some("int4-sym-ch1".parse().unwrap()));
        p.tensors.insert("b".into(), None);
        p.tensors.insert("c".into(), Some("q4_k".parse().unwrap()));
        let text = p.to_json(&[("objective", json!("output"))]);
        assert_eq!(TensorPolicy::from_json(&text).unwrap(), p);
        for (bad, needle) in [
            ("[]", "JSON object"),
            (
                r#"{"format":"x","version":1,"tensors":{"a":"int8"}}"#,
                "format",
            ),
            (
                r#"{"format":"quantscope-policy","version":2,"tensors":{"a":"int8"}}"#,
                "version",
            ),
            (r#"{"format":"quantscope-policy","version":1}"#, "tensors"),
            (
                r#"{"format":"quantscope-policy","version":1,"tensors":{}}"#,
                "empty",
            ),
            (
                r#"{"format":"quantscope-policy","version":1,"tensors":{"a":"int9"}}"#,
                "tensor `a`",
            ),
            (
                r#"{"format":"quantscope-policy","version":1,"tensors":{"a":3}}"#,
                "scheme string",
            ),
            ("{", "policy file"),
        ] {
            let e = TensorPolicy::from_json(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }
}
