//! The inputs a whole-model run is fed: the user's own arrays (by input name), or values
//! generated from the declared shapes and types with a seeded generator. Symbolic
//! dimensions are fixed by the user (`name=N`, or `input.axis=N`); a leading one
//! defaults to 1 (a batch of one).

use std::collections::{BTreeMap, HashMap};

use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::Serialize;

use super::engine::{Named, Value};
use super::proto::{Dim, InputSpec};
use crate::error::{Error, Result};
use crate::formats::generated::onnx::GraphProto;
use crate::tensor::{DType, Tensor};

/// Largest input a generated run allocates (elements), so a lying or absurd declared
/// shape is refused before anything is allocated.
pub const MAX_INPUT_ELEMENTS: usize = 1 << 28;

/// Where an input's values came from, for the report.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct InputInfo {
    pub name: String,
    #[cfg_attr(feature = "ts-types", ts(type = "string"))]
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// "given" (the user's file) or the rule that generated them.
    pub source: String,
}

/// Resolves a declared shape with the user's fixes.
pub fn resolve_shape(spec: &InputSpec, dims: &BTreeMap<String, usize>) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(spec.dims.len());
    let mut missing = Vec::new();
    for (axis, d) in spec.dims.iter().enumerate() {
        match d {
            Dim::Fixed(n) => out.push(*n),
            Dim::Symbol(s) => {
                let by_axis = format!("{}.{axis}", spec.name);
                if let Some(&n) = dims.get(s).or_else(|| dims.get(&by_axis)) {
                    out.push(n);
                } else if axis == 0 || state_like(&spec.name) {
                    // A batch of one; a state's unnamed axes are its batch too
                    // (silero's state is [2, batch, 128]).
                    out.push(1);
                } else {
                    missing.push(if s == &by_axis {
                        by_axis.clone()
                    } else {
                        format!("{s} (or {by_axis})")
                    });
                    out.push(0);
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(Error::Graph(format!(
            "input `{}` has dims {:?}: fix {} with --dim NAME=N",
            spec.name,
            spec.dims,
            missing.join(", ")
        )));
    }
    let numel = out
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_INPUT_ELEMENTS)
        .ok_or_else(|| {
            Error::Graph(format!(
                "input `{}`: shape {out:?} is over {MAX_INPUT_ELEMENTS} elements",
                spec.name
            ))
        })?;
    let _ = numel;
    Ok(out)
}

/// The vocabulary an integer input indexes: the first dimension of a constant table a
/// Gather reads with it (token ids), searched in the graph and its subgraphs.
fn vocabulary(g: &GraphProto, input: &str) -> Option<usize> {
    let consts = super::proto::constants(g);
    for n in &g.node {
        if n.op_type() == "Gather" && n.input.get(1).map(String::as_str) == Some(input) {
            if let Some(t) = n.input.first().and_then(|d| consts.get(d)) {
                return t.dims.first().map(|&d| d.max(1) as usize);
            }
        }
    }
    None
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// A recurrent state or cache, by its name: generated as zeros.
fn state_like(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["state", "hidden", "cache", "past", "memory"]
        .iter()
        .any(|k| lower.contains(k))
        || matches!(lower.as_str(), "h" | "c" | "h0" | "c0")
}

/// Values for one input the user did not give: float inputs N(0, 1) (state-like names
/// zeros); integer inputs by what their name and use say.
fn generate(
    g: &GraphProto,
    spec: &InputSpec,
    shape: Vec<usize>,
    rng: &mut StdRng,
) -> (Named, String) {
    let n = numel(&shape);
    let lower = spec.name.to_ascii_lowercase();
    let state_like = state_like(&spec.name);
    let (value, source) = match spec.dtype {
        DType::F32 | DType::F16 | DType::F64 if state_like => (
            Value::F32(vec![0.0; n]),
            "zeros (a state input)".to_string(),
        ),
        DType::F32 | DType::F16 | DType::F64 => (
            Value::F32(
                (0..n)
                    .map(|_| rng.sample::<f32, _>(StandardNormal))
                    .collect(),
            ),
            "N(0, 1), seeded".to_string(),
        ),
        DType::Bool => (Value::Bool(vec![true; n]), "all true".to_string()),
        _ => {
            let (v, why): (Vec<i64>, String) = if lower.contains("mask") {
                (vec![1; n], "ones (a mask)".into())
            } else if lower.contains("token_type") || lower.contains("segment") {
                (vec![0; n], "zeros (one segment)".into())
            } else if lower.contains("position") {
                let last = shape.last().copied().unwrap_or(1).max(1);
                (
                    (0..n).map(|i| (i % last) as i64).collect(),
                    "0, 1, 2, ... along the last axis".into(),
                )
            } else if lower == "sr"
                || lower.contains("sample_rate")
                || lower.contains("sampling_rate")
            {
                (vec![16000; n], "16000 (a sample rate)".into())
            } else if let Some(v) = vocabulary(g, &spec.name) {
                (
                    (0..n).map(|_| rng.random_range(0..v as i64)).collect(),
                    format!("uniform ids in [0, {v}), seeded (the table it indexes)"),
                )
            } else {
                (vec![1; n], "ones (an integer input of unknown use)".into())
            };
            let value = match spec.dtype {
                DType::I32 => Value::I32(v.iter().map(|&x| x as i32).collect()),
                _ => Value::I64(v),
            };
            (value, why)
        }
    };
    (
        Named {
            name: spec.name.clone(),
            shape,
            value,
        },
        source,
    )
}

fn from_tensor(spec: &InputSpec, t: &Tensor) -> Result<Named> {
    if t.shape.len() != spec.dims.len() && !spec.dims.is_empty() {
        return Err(Error::Graph(format!(
            "input `{}`: the array given has shape {:?}, the model declares {} axes {:?}",
            spec.name,
            t.shape,
            spec.dims.len(),
            spec.dims
        )));
    }
    for (axis, (d, &n)) in spec.dims.iter().zip(&t.shape).enumerate() {
        if let Dim::Fixed(f) = d {
            if *f != n {
                return Err(Error::Graph(format!(
                    "input `{}`: the array given has shape {:?}, the model fixes axis {axis} to {f}",
                    spec.name, t.shape
                )));
            }
        }
    }
    let value = match spec.dtype {
        DType::F32 | DType::F16 | DType::F64 => Value::F32(t.data.clone()),
        DType::I64 | DType::U8 | DType::I8 => {
            Value::I64(t.data.iter().map(|&v| v as i64).collect())
        }
        DType::I32 => Value::I32(t.data.iter().map(|&v| v as i32).collect()),
        DType::Bool => Value::Bool(t.data.iter().map(|&v| v != 0.0).collect()),
        other => {
            return Err(Error::Graph(format!(
                "input `{}` of type {other} cannot be fed",
                spec.name
            )))
        }
    };
    Ok(Named {
        name: spec.name.clone(),
        shape: t.shape.clone(),
        value,
    })
}

/// Inputs for every declared input: `given` by name where present, generated otherwise.
/// A given array whose name is no input is an error naming the inputs.
pub fn build(
    g: &GraphProto,
    specs: &[InputSpec],
    given: &[Tensor],
    dims: &BTreeMap<String, usize>,
    seed: u64,
) -> Result<(Vec<Named>, Vec<InputInfo>)> {
    let by_name: HashMap<&str, &Tensor> = given.iter().map(|t| (t.name.as_str(), t)).collect();
    for t in given {
        if !specs.iter().any(|s| s.name == t.name) {
            return Err(Error::Graph(format!(
                "the inputs file has an array `{}`, but the model's inputs are {}",
                t.name,
                specs
                    .iter()
                    .map(|s| format!("`{}`", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(specs.len());
    let mut infos = Vec::with_capacity(specs.len());
    for spec in specs {
        let (named, source) = match by_name.get(spec.name.as_str()) {
            Some(t) => (from_tensor(spec, t)?, "given".to_string()),
            None => {
                let shape = resolve_shape(spec, dims)?;
                generate(g, spec, shape, &mut rng)
            }
        };
        infos.push(InputInfo {
            name: spec.name.clone(),
            dtype: spec.dtype,
            shape: named.shape.clone(),
            source,
        });
        values.push(named);
    }
    Ok((values, infos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dims: Vec<Dim>) -> InputSpec {
        InputSpec {
            name: "x".into(),
            dtype: DType::F32,
            dims,
        }
    }

    #[test]
    fn symbolic_dims_are_fixed_by_name_or_axis_and_a_batch_defaults_to_one() {
        let s = spec(vec![
            Dim::Symbol("batch".into()),
            Dim::Fixed(3),
            Dim::Symbol("h".into()),
            Dim::Symbol("x.3".into()),
        ]);
        let mut dims = BTreeMap::new();
        let e = resolve_shape(&s, &dims).unwrap_err().to_string();
        assert!(
            e.contains("h (or x.2)") && e.contains("x.3") && e.contains("--dim"),
            "{e}"
        );
        dims.insert("h".to_string(), 32);
        dims.insert("x.3".to_string(), 16);
        assert_eq!(resolve_shape(&s, &dims).unwrap(), vec![1, 3, 32, 16]);
        dims.insert("batch".to_string(), 2);
        assert_eq!(resolve_shape(&s, &dims).unwrap(), vec![2, 3, 32, 16]);
        dims.insert("h".to_string(), usize::MAX / 2);
        assert!(resolve_shape(&s, &dims)
            .unwrap_err()
            .to_string()
            .contains("elements"));
    }
}
