//! The graph's final outputs under a policy, without the per-node report: what the
//! automatic search (src/auto/) measures once per (weight, candidate) and once per mix.

use super::engine::{self, Value};
use super::{proto, Mode, Policy, Session};
use crate::error::Result;
use crate::formats::generated::onnx::NodeProto;

/// One final output of a quantized run beside the float run's.
#[derive(Clone, Debug)]
pub struct OutputPair {
    pub name: String,
    pub shape: Vec<usize>,
    pub float: Vec<f32>,
    pub quantized: Vec<f32>,
}

impl Session {
    /// Runs the model with `policy` in `mode` and returns its float final outputs beside
    /// the float run's (outputs of other types are left out). Only the graph's outputs
    /// are kept, so the engine can fuse and drop every intermediate value.
    pub fn outputs_under(&mut self, policy: &Policy, mode: &Mode) -> Result<Vec<OutputPair>> {
        for w in policy.weights.keys() {
            if !self.weights.iter().any(|x| &x.name == w) {
                return Err(crate::Error::Graph(format!(
                    "the policy names `{w}`, which is no quantizable weight of this model"
                )));
            }
        }
        let acts = match mode {
            Mode::Weights => Vec::new(),
            Mode::Full { act } => self.activations(policy, act)?,
        };
        let m = self.rewritten(policy, &acts)?;
        let plan = engine::load(&proto::encode(&m), &self.inputs, &self.outputs)?;
        let out = plan.run(&self.inputs, |_, _| true)?;
        let mut pairs = Vec::new();
        for q in out {
            let (Some(f), Value::F32(qv)) = (self.float.get(&q.name), q.value) else {
                continue;
            };
            let Some(fv) = f.f32() else { continue };
            if fv.len() != qv.len() {
                continue;
            }
            pairs.push(OutputPair {
                name: q.name,
                shape: q.shape,
                float: fv.to_vec(),
                quantized: qv,
            });
        }
        Ok(pairs)
    }

    /// The axis of `weight` that runs along its node's output channels: 0 for Conv
    /// (`[out, in/groups, k...]`) and for Gemm with `transB=1`, 1 for MatMul's B (`[K, N]`)
    /// and Gemm without `transB`. The first node that reads it decides; None when it is
    /// read by no weight op.
    pub fn output_axis(&self, weight: &str) -> Option<usize> {
        let g = proto::graph(&self.model).ok()?;
        let rank = self.weights.iter().find(|w| w.name == weight)?.shape.len();
        g.node
            .iter()
            .filter(|n| n.input.get(1).is_some_and(|i| i == weight))
            .find_map(|n| axis_of(n, rank))
    }

    /// A quantizable weight's values, as the model stores them (decoded to f32).
    pub fn weight_values(&self, weight: &str) -> Result<crate::Tensor> {
        self.weight_tensor(weight)
    }
}

/// The output-channel axis of every quantizable weight of an ONNX model, as
/// [`Session::output_axis`] gives it, without running the model (for the searches that
/// only read the weights).
pub fn output_axes(model: &[u8]) -> Result<std::collections::HashMap<String, usize>> {
    let m = proto::decode(model)?;
    let g = proto::graph(&m)?;
    let consts = proto::constants(g);
    let mut out = std::collections::HashMap::new();
    for n in &g.node {
        let Some(w) = n.input.get(1) else { continue };
        let Some(t) = consts.get(w) else { continue };
        if out.contains_key(w) {
            continue;
        }
        let Some(axis) = axis_of(n, proto::tensor_dims(t).len()) else {
            continue;
        };
        out.insert(w.clone(), axis);
    }
    Ok(out)
}

/// The output-channel axis of the weight (input 1, of `rank` axes) of node `n`: 0 for
/// Conv (`[out, in/groups, k...]`) and Gemm with `transB=1`, 1 for ConvTranspose
/// (`[in, out/groups, k...]`) and Gemm without `transB`, the last for MatMul's B
/// (`[..., K, N]`); None for other ops.
fn axis_of(n: &NodeProto, rank: usize) -> Option<usize> {
    let trans_b = n
        .attribute
        .iter()
        .any(|a| a.name() == "transB" && a.i() != 0);
    match n.op_type() {
        "Conv" => Some(0),
        "ConvTranspose" => Some(1),
        "Gemm" if trans_b => Some(0),
        "Gemm" => Some(1),
        "MatMul" => Some(rank.saturating_sub(1)),
        _ => None,
    }
}
