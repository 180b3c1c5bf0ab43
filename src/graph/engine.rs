//! The inference engine (tract) behind the whole-model runs: the only file that names
//! tract's types. It takes an ONNX model as bytes and plain tensors, and gives back the
//! values of the outputs asked for, by their ONNX names.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::element_wise::{ElementWiseMiniOp, ElementWiseOp};
use tract_onnx::tract_hir::internal::{ElementWiseIntoHir, InferenceOp, OpState};

use crate::error::{Error, Result};

/// A tensor crossing the engine's edge: the element type and values the graph uses.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    F32(Vec<f32>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
    /// A type the reports do not compare (its name), kept so a caller sees it exists.
    Other(String),
}

/// One named tensor: ONNX value name, shape, values.
#[derive(Clone, Debug)]
pub struct Named {
    pub name: String,
    pub shape: Vec<usize>,
    pub value: Value,
}

impl Named {
    pub fn f32(&self) -> Option<&[f32]> {
        match &self.value {
            Value::F32(v) => Some(v),
            _ => None,
        }
    }
}

fn engine_err(e: impl std::fmt::Display) -> Error {
    Error::Graph(format!("{e:#}"))
}

/// The operator the fake-quantized graphs use for an activation quantized and dequantized
/// in one step (domain [`FAKE_QUANT_DOMAIN`]; attributes `scale`, `zero_point`, `qmin`,
/// `qmax`).
pub const FAKE_QUANT_OP: &str = "QuantscopeFakeQuant";
pub const FAKE_QUANT_DOMAIN: &str = "quantscope";

/// `(clamp(round_half_even(x / scale) + zp, qmin, qmax) - zp) * scale`, in f32 with a true
/// division, as ONNX Runtime's QuantizeLinear then DequantizeLinear compute it. Our own
/// element-wise op because tract rewrites a float Div into a multiplication by the
/// reciprocal, which rounds differently at the half-way points between codes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FakeQuant {
    scale_bits: u32,
    zero_point: i32,
    qmin: i32,
    qmax: i32,
}

impl ElementWiseMiniOp for FakeQuant {
    fn name(&self) -> String {
        FAKE_QUANT_OP.into()
    }

    fn eval_in_place(&self, t: &mut Tensor, _: Option<DatumType>) -> TractResult<()> {
        let scale = f32::from_bits(self.scale_bits);
        let mut view = t.try_as_plain_ram_mut()?;
        let xs = view.as_slice_mut::<f32>()?;
        let (zp, lo, hi) = (self.zero_point as f32, self.qmin as f32, self.qmax as f32);
        for x in xs {
            *x = crate::graph::calibrate::fake_quant_one(*x, scale, zp, lo, hi);
        }
        Ok(())
    }
}

fn fake_quant_builder(
    _ctx: &tract_onnx::model::ParsingContext,
    node: &tract_onnx::pb::NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let op = FakeQuant {
        scale_bits: node.get_attr::<f32>("scale")?.to_bits(),
        zero_point: node.get_attr::<i64>("zero_point")? as i32,
        qmin: node.get_attr::<i64>("qmin")? as i32,
        qmax: node.get_attr::<i64>("qmax")? as i32,
    };
    Ok((ElementWiseOp(Box::new(op), None).into_hir(), vec![]))
}

fn framework(value_info: bool) -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx().with_ignore_value_info(!value_info);
    onnx.op_register.insert(FAKE_QUANT_OP, fake_quant_builder);
    onnx
}

/// ONNX operators tract has a translator for (its op register, so the check follows the
/// tract version in Cargo.lock rather than a list of ours).
pub fn known_ops() -> std::collections::HashSet<String> {
    tract_onnx::onnx().op_register.0.keys().cloned().collect()
}

/// A model made runnable for a fixed set of input shapes, with the outputs it was asked
/// to keep.
pub struct Plan {
    plan: Arc<TypedSimplePlan>,
    /// ONNX value names of the plan's outputs, in order.
    pub outputs: Vec<String>,
}

/// Loads the model `bytes` (ONNX, every tensor inline) for `inputs` (their shapes and
/// types fix the model's symbolic dimensions), keeping as outputs the ONNX values named
/// in `keep` (the graph's own outputs when empty). Names that the parse does not know
/// are an error naming them.
pub fn load(bytes: &[u8], inputs: &[Named], keep: &[String]) -> Result<Plan> {
    match load_with(framework(true), bytes, inputs, keep) {
        Err(Error::Graph(first)) if first.starts_with(PREPARING) => {
            // A file's value_info may name symbolic dimensions of its own, not tied to
            // the inputs' (PaddleOCR's PP-OCRv4 rec says `p2o.DynamicDimension.0` where
            // its input has another batch symbol): tract then cannot unify them with the
            // fixed input shapes. value_info is only a hint; without it tract infers every
            // shape from the inputs. Kept where it analyses, so that every other model
            // runs exactly as it did (and as tests/interop/graph_interop.py measured).
            load_with(framework(false), bytes, inputs, keep).map_err(|_| Error::Graph(first))
        }
        r => r,
    }
}

const PREPARING: &str = "preparing the model: ";

fn load_with(
    onnx: tract_onnx::Onnx,
    bytes: &[u8],
    inputs: &[Named],
    keep: &[String],
) -> Result<Plan> {
    let proto = onnx
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| Error::OnnxDecode(format!("{e:#}")))?;
    let parsed = onnx.parse(&proto, None).map_err(engine_err)?;
    if !parsed.unresolved_inputs.is_empty() {
        return Err(Error::Graph(format!(
            "values used but never produced: {}",
            parsed.unresolved_inputs.join(", ")
        )));
    }
    let mut model = parsed.model;
    let outputs: Vec<String> = if keep.is_empty() {
        model
            .output_outlets()
            .map_err(engine_err)?
            .iter()
            .map(|o| {
                model
                    .outlet_label(*o)
                    .map(str::to_string)
                    .unwrap_or_default()
            })
            .collect()
    } else {
        keep.to_vec()
    };
    if !keep.is_empty() {
        let mut outlets = Vec::with_capacity(keep.len());
        for k in keep {
            let o = parsed
                .outlets_by_name
                .get(k)
                .ok_or_else(|| Error::Graph(format!("no value named `{k}` in the graph")))?;
            outlets.push(*o);
        }
        model.select_output_outlets(&outlets).map_err(engine_err)?;
    }
    let sources = model.input_outlets().map_err(engine_err)?.len();
    if sources != inputs.len() {
        return Err(Error::Graph(format!(
            "the graph has {sources} inputs, {} given",
            inputs.len()
        )));
    }
    for (i, t) in inputs.iter().enumerate() {
        let fact = match &t.value {
            Value::F32(_) => f32::fact(&t.shape),
            Value::I64(_) => i64::fact(&t.shape),
            Value::I32(_) => i32::fact(&t.shape),
            Value::Bool(_) => bool::fact(&t.shape),
            Value::Other(ty) => {
                return Err(Error::Graph(format!(
                    "input `{}`: type {ty} cannot be fed",
                    t.name
                )))
            }
        };
        model = model.with_input_fact(i, fact.into()).map_err(engine_err)?;
    }
    let typed = model
        .into_optimized()
        .map_err(|e| Error::Graph(format!("{PREPARING}{e:#}")))?;
    let plan = typed.into_runnable().map_err(engine_err)?;
    Ok(Plan { plan, outputs })
}

fn to_tvalue(t: &Named) -> Result<TValue> {
    let tensor = match &t.value {
        Value::F32(v) => Tensor::from_shape(&t.shape, v),
        Value::I64(v) => Tensor::from_shape(&t.shape, v),
        Value::I32(v) => Tensor::from_shape(&t.shape, v),
        Value::Bool(v) => Tensor::from_shape(&t.shape, v),
        Value::Other(ty) => {
            return Err(Error::Graph(format!(
                "input `{}`: type {ty} cannot be fed",
                t.name
            )))
        }
    }
    .map_err(engine_err)?;
    Ok(tensor.into_tvalue())
}

fn from_tvalue(name: &str, t: &TValue) -> Result<Named> {
    let shape = t.shape().to_vec();
    let view = t.try_as_plain_ram().map_err(engine_err)?;
    let value = match t.datum_type() {
        DatumType::F32 => Value::F32(view.as_slice::<f32>().map_err(engine_err)?.to_vec()),
        DatumType::I64 => Value::I64(view.as_slice::<i64>().map_err(engine_err)?.to_vec()),
        DatumType::I32 => Value::I32(view.as_slice::<i32>().map_err(engine_err)?.to_vec()),
        DatumType::Bool => Value::Bool(view.as_slice::<bool>().map_err(engine_err)?.to_vec()),
        DatumType::F16 => {
            let v = view.as_slice::<f16>().map_err(engine_err)?;
            Value::F32(v.iter().map(|x| x.to_f32()).collect())
        }
        other => Value::Other(format!("{other:?}")),
    };
    Ok(Named {
        name: name.to_string(),
        shape,
        value,
    })
}

impl Plan {
    /// Runs the plan; `step(done, total)` is called after each of its operations and
    /// stops the run when it returns false.
    pub fn run(
        &self,
        inputs: &[Named],
        step: impl FnMut(usize, usize) -> bool,
    ) -> Result<Vec<Named>> {
        let mut out = Vec::with_capacity(self.outputs.len());
        self.run_each(inputs, step, |n| {
            out.push(n);
            Ok(())
        })?;
        Ok(out)
    }

    /// As [`Plan::run`], handing each output to `each` as it is converted, so that the
    /// engine's copy of it is freed before the next one is made (the per-node runs keep
    /// every node's output: half the peak memory).
    pub fn run_each(
        &self,
        inputs: &[Named],
        mut step: impl FnMut(usize, usize) -> bool,
        mut each: impl FnMut(Named) -> Result<()>,
    ) -> Result<()> {
        let values = inputs.iter().map(to_tvalue).collect::<Result<TVec<_>>>()?;
        let total = self.plan.order_without_consts().len();
        let mut done = 0usize;
        let mut state = self.plan.spawn().map_err(engine_err)?;
        let out = state
            .run_plan_with_eval(
                values,
                |ctx, op_state: Option<&mut (dyn OpState + 'static)>, node, ins| {
                    let r = tract_onnx::tract_core::plan::eval(ctx, op_state, node, ins);
                    done += 1;
                    if !step(done, total) {
                        return Err(TractError::msg("cancelled"));
                    }
                    r
                },
            )
            .map_err(|e| {
                let s = format!("{e:#}");
                if s.contains("cancelled") {
                    Error::Cancelled
                } else {
                    Error::Graph(format!("running the model: {s}"))
                }
            })?;
        for (t, n) in out.into_iter().zip(&self.outputs) {
            each(from_tvalue(n, &t)?)?;
        }
        Ok(())
    }
}
