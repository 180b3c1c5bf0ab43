//! Whole-model runs: an ONNX model runs float, with quantized weights (any scheme of the
//! catalogue) and with quantized weights and activations, on the same inputs, and the
//! error is measured at every node output.
//!
//! The engine is tract ([`engine`], the only file naming its types). A [`Session`] holds
//! the float run (every node's output cached), so that a scheme map ([`Policy`]: weight
//! -> scheme or float) is evaluated by one more run ([`Session::run`]) and the damage
//! each weight does by itself by running only its own node ([`Session::isolated`]).
//!
//! Two numbers per node, as ONNX Runtime's `qdq_loss_debug` and AIMET's per-layer
//! analysis report them:
//! - **accumulated**: the whole model quantized; the node's output against the float
//!   model's. This is how far the model has drifted by that point.
//! - **isolated**: only that node's weight quantized (and, in the full mode, its inputs
//!   fake-quantized), fed the float model's inputs for that node: the error born there.
//!   It costs one node's run, not a whole model's.

pub mod calibrate;
pub(crate) mod engine;
pub mod export;
pub mod inputs;
pub mod probe;
pub mod proto;
pub mod table;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::generated::onnx::{GraphProto, ModelProto, NodeProto, TensorProto};
use crate::metrics::{compare, Metrics};
use crate::quant::{LinearScheme, Scheme};
use crate::tensor::{DType, Tensor};
use calibrate::ActQuant;
use engine::{Named, Value};
pub use inputs::InputInfo;
pub use proto::{Dim, InputSpec, WEIGHT_OPS};

/// How the quantized run treats the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Mode {
    /// Weights replaced by their dequantization; activations float.
    Weights,
    /// Weights as in `Weights`, and the activation inputs of the weight ops quantized
    /// and dequantized per tensor with `act`'s scale (ONNX Runtime's static QDQ).
    Full { act: LinearScheme },
}

/// What one weight becomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "scheme", rename_all = "snake_case")]
pub enum Choice {
    Float,
    Scheme(Scheme),
}

/// A scheme per weight (by its ONNX value name); a weight not listed stays float.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub weights: BTreeMap<String, Choice>,
}

impl Policy {
    fn scheme_of(&self, weight: &str) -> Option<&Scheme> {
        match self.weights.get(weight) {
            Some(Choice::Scheme(s)) => Some(s),
            _ => None,
        }
    }
}

/// A top-level node of the graph, in topological order.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct NodeInfo {
    pub index: usize,
    pub name: String,
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    /// The constant weight a scheme quantizes (MatMul/Gemm/Conv's second input).
    pub weight: Option<String>,
}

/// A quantizable weight: a float constant of two or more axes feeding a weight op.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct WeightInfo {
    pub name: String,
    pub shape: Vec<usize>,
    #[cfg_attr(feature = "ts-types", ts(type = "string"))]
    pub dtype: DType,
    /// The nodes that take it as their weight (index into [`Session::nodes`]).
    pub nodes: Vec<usize>,
}

/// The error at one node output.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct NodeRow {
    /// Position in topological order.
    pub index: usize,
    pub node: String,
    pub op_type: String,
    pub output: String,
    pub shape: Vec<usize>,
    /// The whole model quantized, against the float model.
    pub accumulated: Option<Metrics>,
    /// Only this node's weight (and in the full mode its inputs) quantized, on the float
    /// model's inputs of this node.
    pub isolated: Option<Metrics>,
    pub weight: Option<String>,
    /// The scheme its weight had in the run, when it was quantized.
    pub scheme: Option<String>,
    /// The node was asked to stay float.
    pub excluded: bool,
}

/// A final output, float and quantized.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct OutputRow {
    pub name: String,
    pub shape: Vec<usize>,
    pub metrics: Metrics,
    /// For an output whose last axis reads as class scores: the share of rows whose
    /// arg-max agrees.
    pub top1_agreement: Option<f64>,
    /// For an embedding-like output (rows of a float vector): the mean cosine of rows.
    pub row_cosine: Option<f64>,
    /// At most [`PREVIEW`] values of each, for side-by-side display.
    pub float_preview: Vec<f32>,
    pub quantized_preview: Vec<f32>,
}

pub const PREVIEW: usize = 64;

/// A quantized run against the float run.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct RunReport {
    /// "weights" or "full".
    #[cfg_attr(feature = "ts-types", ts(type = "\"weights\" | \"full\""))]
    pub mode: String,
    pub scheme: Option<String>,
    pub act: Option<String>,
    pub inputs: Vec<InputInfo>,
    pub nodes: Vec<NodeRow>,
    pub outputs: Vec<OutputRow>,
    /// Node indices (into `nodes`) ranked by isolated damage, worst first.
    pub ranking: Vec<usize>,
    pub excluded: Vec<String>,
    /// The node names to pass as ONNX Runtime's `nodes_to_exclude` for the same result.
    pub nodes_to_exclude: Vec<String>,
    pub activations: Vec<ActQuant>,
    pub notes: Vec<String>,
}

/// Where a long run is: `stage` ("float", "quantized", "isolated"), steps done of
/// `total`. A progress callback returning false cancels the run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Step {
    pub stage: &'static str,
    pub done: usize,
    pub total: usize,
}

/// Options for opening a session.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Symbolic dimensions fixed by the user: `name` or `input.axis` -> size.
    pub dims: BTreeMap<String, usize>,
    pub seed: u64,
    /// The user's arrays, matched to the inputs by name.
    pub given: Vec<Tensor>,
}

/// A model opened for whole-model runs, with its float run done.
pub struct Session {
    model: ModelProto,
    pub specs: Vec<InputSpec>,
    pub input_info: Vec<InputInfo>,
    inputs: Vec<Named>,
    pub nodes: Vec<NodeInfo>,
    pub weights: Vec<WeightInfo>,
    /// Float values of every node output (f32 ones), by value name.
    float: HashMap<String, Named>,
    /// The graph's outputs, in order.
    pub outputs: Vec<String>,
    /// Dequantized weights already computed: (weight, scheme string) -> values.
    dequantized: HashMap<(String, String), std::sync::Arc<Vec<f32>>>,
    pub notes: Vec<String>,
    /// The graph outputs of the last quantized run.
    last: Vec<Named>,
}

/// What an opened session tells the page: the declared inputs, the values used, the
/// nodes in topological order, the quantizable weights, the outputs and the notes.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct GraphInfo {
    pub specs: Vec<InputSpec>,
    pub inputs: Vec<InputInfo>,
    pub nodes: Vec<NodeInfo>,
    pub weights: Vec<WeightInfo>,
    pub outputs: Vec<String>,
    pub notes: Vec<String>,
}

/// A final output of the float run and of the last quantized run, whole.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct OutputValues {
    pub name: String,
    pub shape: Vec<usize>,
    pub float: Vec<f32>,
    pub quantized: Vec<f32>,
}

/// The `--mode` of the CLI (and the page): `weights`, or `full` with the activation
/// scheme `act`.
pub fn parse_mode(mode: &str, act: &str) -> Result<Mode> {
    match mode {
        "weights" | "weight" | "w" => Ok(Mode::Weights),
        "full" => Ok(Mode::Full {
            act: calibrate::activation_scheme(act)?,
        }),
        other => Err(Error::Graph(format!(
            "mode `{other}`: expected `weights` (weights only) or `full` (weights and activations)"
        ))),
    }
}

/// `NAME=N` pairs fixing symbolic input dimensions.
pub fn parse_dims(dims: &[String]) -> Result<BTreeMap<String, usize>> {
    let mut out = BTreeMap::new();
    for d in dims {
        let (k, v) = d
            .rsplit_once('=')
            .ok_or_else(|| Error::Graph(format!("--dim `{d}`: expected NAME=N")))?;
        let n: usize =
            v.trim().parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                Error::Graph(format!("--dim `{d}`: `{v}` is not a positive size"))
            })?;
        out.insert(k.trim().to_string(), n);
    }
    Ok(out)
}

/// The arrays of an .npz (or one .npy, named after the file) for [`Options::given`].
pub fn read_inputs(bytes: &[u8], file_name: &str) -> Result<Vec<Tensor>> {
    let model = if file_name.ends_with(".npy") {
        crate::formats::npy::read_npy(bytes, file_name)?
    } else {
        crate::formats::npy::read_npz(bytes, file_name)?
    };
    Ok(model.tensors)
}

/// Operators the engine cannot run, with the nodes that use them (subgraphs included).
pub fn unsupported_ops(model: &[u8]) -> Result<Vec<(String, Vec<String>)>> {
    let m = proto::decode(model)?;
    let known = engine::known_ops();
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    fn walk(
        g: &GraphProto,
        path: &str,
        known: &HashSet<String>,
        out: &mut BTreeMap<String, Vec<String>>,
    ) {
        for (i, n) in g.node.iter().enumerate() {
            let name = format!("{path}{}", proto::node_name(n, i));
            if !known.contains(n.op_type()) {
                let op = if n.domain().is_empty() || n.domain() == "ai.onnx" {
                    n.op_type().to_string()
                } else {
                    format!("{}.{}", n.domain(), n.op_type())
                };
                out.entry(op).or_default().push(name.clone());
            }
            for a in &n.attribute {
                for sg in a.g.iter().chain(a.graphs.iter()) {
                    walk(sg, &format!("{name}/{}/", a.name()), known, out);
                }
            }
        }
    }
    walk(proto::graph(&m)?, "", &known, &mut found);
    Ok(found.into_iter().collect())
}

fn float_tensor(name: &str, t: &TensorProto) -> Option<Tensor> {
    let dtype = proto::elem_dtype(t.data_type()).filter(|d| d.is_float())?;
    let data = proto::float_values(t)?;
    let shape = proto::tensor_dims(t);
    (data.len() == shape.iter().product::<usize>()).then(|| Tensor {
        name: name.to_string(),
        shape,
        dtype,
        data,
    })
}

fn is_weight_op(n: &NodeProto) -> bool {
    (n.domain().is_empty() || n.domain() == "ai.onnx") && WEIGHT_OPS.contains(&n.op_type())
}

impl Session {
    /// Opens `bytes` (with its external data files) and runs it float.
    pub fn open(bytes: &[u8], external: &[(&str, &[u8])], options: &Options) -> Result<Session> {
        Self::open_with(bytes, external, options, &mut |_| true)
    }

    /// As [`Session::open`], reporting progress (done, total steps of the float run);
    /// a false return cancels.
    pub fn open_with(
        bytes: &[u8],
        external: &[(&str, &[u8])],
        options: &Options,
        progress: &mut dyn FnMut(Step) -> bool,
    ) -> Result<Session> {
        let missing = unsupported_ops(bytes)?;
        if !missing.is_empty() {
            return Err(Error::UnsupportedOps {
                ops: missing.iter().map(|(o, _)| o.clone()).collect(),
                nodes: missing
                    .iter()
                    .flat_map(|(o, ns)| ns.iter().take(3).map(move |n| format!("{n} ({o})")))
                    .collect(),
            });
        }
        let mut model = proto::decode(bytes)?;
        let g = model
            .graph
            .as_mut()
            .ok_or_else(|| Error::OnnxDecode("the model has no graph".into()))?;
        proto::inline_external(g, external)?;
        let specs = proto::input_specs(g)?;
        let (inputs, input_info) =
            inputs::build(g, &specs, &options.given, &options.dims, options.seed)?;
        let mut notes = Vec::new();
        resolve_ifs(&mut model, &inputs, &mut notes)?;
        let g = proto::graph(&model)?;
        let outputs: Vec<String> = g.output.iter().map(|v| v.name().to_string()).collect();
        let (nodes, weights) = index_nodes(g);
        let mut s = Session {
            model,
            specs,
            input_info,
            inputs,
            nodes,
            weights,
            float: HashMap::new(),
            outputs,
            dequantized: HashMap::new(),
            notes,
            last: Vec::new(),
        };
        let mut values = s.run_model(&s.model.clone(), &mut |done, total| {
            progress(Step {
                stage: "float",
                done,
                total,
            })
        })?;
        // The graph inputs feed the first nodes' isolated runs.
        for i in &s.inputs {
            if matches!(i.value, Value::F32(_)) {
                values.entry(i.name.clone()).or_insert_with(|| i.clone());
            }
        }
        s.float = values;
        Ok(s)
    }

    /// Every node output that the report follows, in topological order.
    fn followed(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for n in &self.nodes {
            for o in n.outputs.iter().filter(|o| !o.is_empty()) {
                if seen.insert(o.clone()) {
                    out.push(o.clone());
                }
            }
        }
        for o in &self.outputs {
            if seen.insert(o.clone()) {
                out.push(o.clone());
            }
        }
        out
    }

    /// Runs `model` (this session's graph, rewritten) keeping every followed value.
    fn run_model(
        &self,
        model: &ModelProto,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<HashMap<String, Named>> {
        let mut out = HashMap::new();
        self.run_model_each(model, progress, &mut |n| {
            out.insert(n.name.clone(), n);
        })?;
        Ok(out)
    }

    /// Runs `model` keeping every followed value, handing each float one to `each`.
    fn run_model_each(
        &self,
        model: &ModelProto,
        progress: &mut dyn FnMut(usize, usize) -> bool,
        each: &mut dyn FnMut(Named),
    ) -> Result<()> {
        let keep = self.followed();
        let mut m = model.clone();
        let g = m
            .graph
            .as_mut()
            .ok_or_else(|| Error::OnnxDecode("the model has no graph".into()))?;
        proto::set_outputs(g, &keep);
        let plan = engine::load(&proto::encode(&m), &self.inputs, &keep)?;
        drop(m);
        plan.run_each(&self.inputs, progress, |n| {
            if matches!(n.value, Value::F32(_)) {
                each(n);
            }
            Ok(())
        })
    }

    /// The session's inputs, nodes, weights, outputs and notes (a copy, for the page).
    pub fn info(&self) -> GraphInfo {
        GraphInfo {
            specs: self.specs.clone(),
            inputs: self.input_info.clone(),
            nodes: self.nodes.clone(),
            weights: self.weights.clone(),
            outputs: self.outputs.clone(),
            notes: self.notes.clone(),
        }
    }

    /// The graph's float outputs beside the last quantized run's.
    pub fn output_values(&self) -> Vec<OutputValues> {
        self.last
            .iter()
            .filter_map(|q| {
                let f = self.float.get(&q.name)?;
                Some(OutputValues {
                    name: q.name.clone(),
                    shape: q.shape.clone(),
                    float: f.f32()?.to_vec(),
                    quantized: q.f32()?.to_vec(),
                })
            })
            .collect()
    }

    /// The float values of a node output, when it is a float tensor.
    pub fn float_value(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.float
            .get(name)
            .and_then(|n| n.f32().map(|v| (n.shape.as_slice(), v)))
    }

    /// A policy giving every quantizable weight `scheme`, except the weights of the
    /// nodes named in `exclude`.
    pub fn uniform_policy(&self, scheme: &Scheme, exclude: &[String]) -> Result<Policy> {
        for e in exclude {
            if !self.nodes.iter().any(|n| &n.name == e) {
                return Err(Error::Graph(format!(
                    "--exclude: no node named `{e}` (node names are listed by `quantscope run`)"
                )));
            }
        }
        let mut p = Policy::default();
        for w in &self.weights {
            let excluded = w
                .nodes
                .iter()
                .any(|&i| exclude.contains(&self.nodes[i].name));
            p.weights.insert(
                w.name.clone(),
                if excluded {
                    Choice::Float
                } else {
                    Choice::Scheme(scheme.clone())
                },
            );
        }
        Ok(p)
    }

    fn weight_tensor(&self, name: &str) -> Result<Tensor> {
        let g = proto::graph(&self.model)?;
        let consts = proto::constants(g);
        let t = consts
            .get(name)
            .ok_or_else(|| Error::NoSuchTensor(name.to_string()))?;
        float_tensor(name, t)
            .ok_or_else(|| Error::Graph(format!("weight `{name}` is not a float tensor")))
    }

    /// The dequantized values of `weight` under `scheme` (cached).
    pub fn dequantized(
        &mut self,
        weight: &str,
        scheme: &Scheme,
    ) -> Result<std::sync::Arc<Vec<f32>>> {
        let key = (weight.to_string(), scheme.to_string());
        if let Some(v) = self.dequantized.get(&key) {
            return Ok(v.clone());
        }
        let t = self.weight_tensor(weight)?;
        let v = std::sync::Arc::new(scheme.encode(&t)?.dequantize());
        self.dequantized.insert(key, v.clone());
        Ok(v)
    }

    /// Activation quantization of the weight ops' activation inputs whose weight the
    /// policy quantizes.
    fn activations(
        &self,
        policy: &Policy,
        act: &LinearScheme,
    ) -> Result<Vec<(usize, usize, ActQuant)>> {
        let g = proto::graph(&self.model)?;
        let consts = proto::constants(g);
        let mut by_value: HashMap<String, ActQuant> = HashMap::new();
        let mut out = Vec::new();
        for n in &self.nodes {
            let Some(w) = &n.weight else { continue };
            if policy.scheme_of(w).is_none() {
                continue;
            }
            for (slot, input) in n.inputs.iter().enumerate() {
                // The graph's own inputs stay float. They are among the float values
                // since the isolated runs needed them, which made the full mode quantize
                // them too; with that, our run and ONNX Runtime's on the exported QDQ
                // file disagreed (PaddleOCR cls: 44.9 dB against 42.9 dB of quantization
                // error; with the input float, 144 dB), a difference not found yet.
                if input.is_empty()
                    || consts.contains_key(input)
                    || Some(input) == n.weight.as_ref()
                    || self.inputs.iter().any(|i| &i.name == input)
                {
                    continue;
                }
                // Gemm/Conv's bias (third input) is never an activation.
                if slot >= 2 {
                    continue;
                }
                let q = match by_value.get(input) {
                    Some(q) => q.clone(),
                    None => {
                        let Some((_, v)) = self.float_value(input) else {
                            continue;
                        };
                        let q = calibrate::calibrate(act, input, v)?;
                        by_value.insert(input.clone(), q.clone());
                        q
                    }
                };
                out.push((n.index, slot, q));
            }
        }
        Ok(out)
    }

    /// The session's graph with `policy`'s weights and, in the full mode, fake-quantized
    /// activation inputs.
    fn rewritten(
        &mut self,
        policy: &Policy,
        acts: &[(usize, usize, ActQuant)],
    ) -> Result<ModelProto> {
        let mut values = HashMap::new();
        for w in self.weights.clone() {
            if let Some(s) = policy.scheme_of(&w.name).cloned() {
                let v = self.dequantized(&w.name, &s)?;
                values.insert(w.name.clone(), v.as_ref().clone());
            }
        }
        let mut m = self.model.clone();
        let g = m
            .graph
            .as_mut()
            .ok_or_else(|| Error::OnnxDecode("the model has no graph".into()))?;
        proto::replace_constants(g, &values);
        insert_fake_quant(g, acts);
        add_opset(&mut m);
        Ok(m)
    }

    /// Runs the model with `policy` in `mode`: per-node accumulated error, and isolated
    /// error at every weight node whose weight the policy quantizes.
    pub fn run(&mut self, policy: &Policy, mode: &Mode, isolated: bool) -> Result<RunReport> {
        self.run_with(policy, mode, isolated, &mut |_| true)
    }

    pub fn run_with(
        &mut self,
        policy: &Policy,
        mode: &Mode,
        with_isolated: bool,
        progress: &mut dyn FnMut(Step) -> bool,
    ) -> Result<RunReport> {
        for w in policy.weights.keys() {
            if !self.weights.iter().any(|x| &x.name == w) {
                return Err(Error::Graph(format!(
                    "the policy names `{w}`, which is no quantizable weight of this model"
                )));
            }
        }
        let acts = match mode {
            Mode::Weights => Vec::new(),
            Mode::Full { act } => self.activations(policy, act)?,
        };
        let m = self.rewritten(policy, &acts)?;
        // Each quantized output is measured against the float one as it comes, and only
        // the graph's outputs are kept.
        let mut measured: HashMap<String, (Vec<usize>, Metrics)> = HashMap::new();
        let mut quant: HashMap<String, Named> = HashMap::new();
        let float = &self.float;
        let outputs = &self.outputs;
        self.run_model_each(
            &m,
            &mut |done, total| {
                progress(Step {
                    stage: "quantized",
                    done,
                    total,
                })
            },
            &mut |q| {
                if let (Some(fv), Some(qv)) = (float.get(&q.name).and_then(|f| f.f32()), q.f32()) {
                    if fv.len() == qv.len() {
                        measured.insert(q.name.clone(), (q.shape.clone(), compare(fv, qv)));
                    }
                }
                if outputs.contains(&q.name) {
                    quant.insert(q.name.clone(), q);
                }
            },
        )?;
        drop(m);
        let isolated = if with_isolated {
            self.isolated(policy, &acts, progress)?
        } else {
            HashMap::new()
        };
        let excluded: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| {
                n.weight
                    .as_ref()
                    .is_some_and(|w| matches!(policy.weights.get(w), Some(Choice::Float)))
            })
            .map(|n| n.name.clone())
            .collect();
        let mut rows = Vec::new();
        let mut seen = HashSet::new();
        for n in &self.nodes {
            for o in n.outputs.iter().filter(|o| !o.is_empty()) {
                if !seen.insert(o.clone()) {
                    continue;
                }
                let Some((shape, metrics)) = measured.get(o) else {
                    continue;
                };
                let first = n.outputs.first() == Some(o);
                rows.push(NodeRow {
                    index: n.index,
                    node: n.name.clone(),
                    op_type: n.op_type.clone(),
                    output: o.clone(),
                    shape: shape.clone(),
                    accumulated: Some(*metrics),
                    isolated: if first {
                        isolated.get(&n.index).copied()
                    } else {
                        None
                    },
                    weight: n.weight.clone(),
                    scheme: n
                        .weight
                        .as_ref()
                        .and_then(|w| policy.scheme_of(w))
                        .map(|s| s.to_string()),
                    excluded: excluded.contains(&n.name),
                });
            }
        }
        let mut ranking: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].isolated.is_some())
            .collect();
        ranking.sort_by(|&a, &b| {
            let sa = rows[a].isolated.map(|m| m.sqnr_db).unwrap_or(f64::INFINITY);
            let sb = rows[b].isolated.map(|m| m.sqnr_db).unwrap_or(f64::INFINITY);
            sa.total_cmp(&sb).then(a.cmp(&b))
        });
        let outputs = self
            .outputs
            .iter()
            .filter_map(|o| {
                let (f, q) = (self.float.get(o)?, quant.get(o)?);
                let (fv, qv) = (f.f32()?, q.f32()?);
                (fv.len() == qv.len()).then(|| output_row(o, &f.shape, fv, qv))
            })
            .collect();
        let schemes: HashSet<String> = policy
            .weights
            .values()
            .filter_map(|c| match c {
                Choice::Scheme(s) => Some(s.to_string()),
                Choice::Float => None,
            })
            .collect();
        self.last = self
            .outputs
            .iter()
            .filter_map(|o| quant.get(o).cloned())
            .collect();
        let mut notes = self.notes.clone();
        if let Mode::Full { .. } = mode {
            notes.push("full mode: activation inputs of the quantized weight ops are quantized and dequantized per tensor (ONNX Runtime static QDQ); other activations stay float".into());
        }
        Ok(RunReport {
            mode: match mode {
                Mode::Weights => "weights".into(),
                Mode::Full { .. } => "full".into(),
            },
            scheme: (schemes.len() == 1).then(|| schemes.into_iter().next().unwrap_or_default()),
            act: match mode {
                Mode::Full { act } => Some(act.to_string()),
                Mode::Weights => None,
            },
            inputs: self.input_info.clone(),
            nodes: rows,
            outputs,
            ranking,
            nodes_to_exclude: excluded.clone(),
            excluded,
            activations: acts
                .into_iter()
                .map(|(_, _, q)| q)
                .collect::<Vec<_>>()
                .dedup_by_value(),
            notes,
        })
    }

    /// Isolated error of every weight node whose weight `policy` quantizes: the node alone,
    /// fed the float run's values (fake-quantized per `acts` in the full mode).
    fn isolated(
        &mut self,
        policy: &Policy,
        acts: &[(usize, usize, ActQuant)],
        progress: &mut dyn FnMut(Step) -> bool,
    ) -> Result<HashMap<usize, Metrics>> {
        let mut out = HashMap::new();
        let todo: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| {
                self.nodes[i]
                    .weight
                    .as_ref()
                    .is_some_and(|w| policy.scheme_of(w).is_some())
            })
            .collect();
        for (k, &i) in todo.iter().enumerate() {
            if !progress(Step {
                stage: "isolated",
                done: k,
                total: todo.len(),
            }) {
                return Err(Error::Cancelled);
            }
            let Some(w) = self.nodes[i].weight.clone() else {
                continue;
            };
            let Some(s) = policy.scheme_of(&w).cloned() else {
                continue;
            };
            let values = self.dequantized(&w, &s)?;
            let node_acts: Vec<(usize, &ActQuant)> = acts
                .iter()
                .filter(|(n, _, _)| *n == i)
                .map(|(_, slot, q)| (*slot, q))
                .collect();
            if let Some(m) = self.node_alone(i, &w, &values, &node_acts)? {
                out.insert(i, m);
            }
        }
        Ok(out)
    }

    /// Isolated damage of each weight under each candidate scheme (weights-only, or with
    /// the weight op's activation inputs quantized by `act`): one node run per pair.
    pub fn damage(
        &mut self,
        candidates: &[Scheme],
        act: Option<&LinearScheme>,
    ) -> Result<Vec<Damage>> {
        let mut out = Vec::new();
        for w in self.weights.clone() {
            for s in candidates {
                let values = self.dequantized(&w.name, s)?;
                let mut worst: Option<Metrics> = None;
                for &i in &w.nodes {
                    let acts: Vec<(usize, ActQuant)> = match act {
                        None => Vec::new(),
                        Some(a) => {
                            let mut p = Policy::default();
                            p.weights.insert(w.name.clone(), Choice::Scheme(s.clone()));
                            self.activations(&p, a)?
                                .into_iter()
                                .filter(|(n, _, _)| *n == i)
                                .map(|(_, slot, q)| (slot, q))
                                .collect()
                        }
                    };
                    let refs: Vec<(usize, &ActQuant)> = acts.iter().map(|(s, q)| (*s, q)).collect();
                    if let Some(m) = self.node_alone(i, &w.name, &values, &refs)? {
                        if worst.is_none_or(|x| m.sqnr_db < x.sqnr_db) {
                            worst = Some(m);
                        }
                    }
                }
                let t = self.weight_tensor(&w.name)?;
                let bytes = s.encode(&t)?.packed_bytes();
                out.push(Damage {
                    weight: w.name.clone(),
                    scheme: s.to_string(),
                    isolated: worst,
                    packed_bytes: bytes,
                });
            }
        }
        Ok(out)
    }

    /// Runs node `i` alone with `weight` replaced by `values`, its other inputs from the
    /// float run (fake-quantized where `acts` says), against the float run's output.
    fn node_alone(
        &self,
        i: usize,
        weight: &str,
        values: &[f32],
        acts: &[(usize, &ActQuant)],
    ) -> Result<Option<Metrics>> {
        let g = proto::graph(&self.model)?;
        let consts = proto::constants(g);
        let node = g
            .node
            .iter()
            .enumerate()
            .find(|(j, n)| proto::node_name(n, *j) == self.nodes[i].name)
            .map(|(_, n)| n.clone())
            .ok_or_else(|| Error::Graph(format!("node `{}` vanished", self.nodes[i].name)))?;
        let Some(out_name) = node.output.first().cloned() else {
            return Ok(None);
        };
        let Some(float_out) = self.float.get(&out_name) else {
            return Ok(None);
        };
        let Some(float_out) = float_out.f32() else {
            return Ok(None);
        };
        let mut sub = GraphProto {
            name: Some("node".into()),
            node: vec![node.clone()],
            ..Default::default()
        };
        let mut feeds = Vec::new();
        for (slot, input) in node.input.iter().enumerate() {
            if input.is_empty()
                || sub.initializer.iter().any(|t| t.name() == input)
                || feeds.iter().any(|f: &Named| &f.name == input)
            {
                continue;
            }
            if let Some(t) = consts.get(input) {
                let mut t = (*t).clone();
                t.name = Some(input.clone());
                if input == weight {
                    proto::set_float_values(&mut t, values);
                }
                sub.initializer.push(t);
            } else {
                let Some(v) = self.float.get(input) else {
                    // An input that is not a float tensor of the graph (e.g. an integer
                    // shape): the node cannot be run alone.
                    return Ok(None);
                };
                let mut v = v.clone();
                if let (Some(q), Value::F32(data)) =
                    (acts.iter().find(|(s, _)| *s == slot), &mut v.value)
                {
                    *data = q.1.apply(data);
                }
                sub.input.push(proto::value_info_f32(input, &v.shape));
                feeds.push(v);
            }
        }
        sub.output.push(proto::value_info_f32(&out_name, &[]));
        let mut m = ModelProto {
            ir_version: self.model.ir_version,
            opset_import: self.model.opset_import.clone(),
            graph: Some(sub),
            ..Default::default()
        };
        add_opset(&mut m);
        let plan = engine::load(&proto::encode(&m), &feeds, &[])?;
        let out = plan.run(&feeds, |_, _| true)?;
        let Some(q) = out.first().and_then(|o| o.f32()) else {
            return Ok(None);
        };
        if q.len() != float_out.len() {
            return Ok(None);
        }
        Ok(Some(compare(float_out, q)))
    }
}

/// Isolated damage of one weight under one scheme.
#[derive(Clone, Debug, Serialize)]
pub struct Damage {
    pub weight: String,
    pub scheme: String,
    /// The worst over the nodes that use the weight.
    pub isolated: Option<Metrics>,
    pub packed_bytes: usize,
}

trait DedupByValue {
    fn dedup_by_value(self) -> Self;
}

impl DedupByValue for Vec<ActQuant> {
    fn dedup_by_value(self) -> Self {
        let mut seen = HashSet::new();
        self.into_iter()
            .filter(|q| seen.insert(q.value.clone()))
            .collect()
    }
}

fn output_row(name: &str, shape: &[usize], f: &[f32], q: &[f32]) -> OutputRow {
    let metrics = compare(f, q);
    let last = shape.last().copied().unwrap_or(0);
    let rows = f.len().checked_div(last).unwrap_or(0);
    let argmax = |v: &[f32]| {
        v.iter()
            .enumerate()
            .fold((0usize, f32::NEG_INFINITY), |b, (i, &x)| {
                if x > b.1 {
                    (i, x)
                } else {
                    b
                }
            })
            .0
    };
    // Class scores: rows of probabilities (non-negative, summing to 1) or an output
    // named as scores; several rows make it per position (OCR's characters).
    let lower = name.to_ascii_lowercase();
    let named_scores = ["logit", "prob", "score", "softmax", "class", "cls"]
        .iter()
        .any(|k| lower.contains(k));
    let probabilities = rows >= 1
        && f.iter().all(|&v| v >= 0.0)
        && (0..rows).all(|r| (f[r * last..(r + 1) * last].iter().sum::<f32>() - 1.0).abs() < 1e-3);
    let top1_agreement = (last >= 2 && rows >= 1 && (named_scores || probabilities)).then(|| {
        let agree = (0..rows)
            .filter(|&r| {
                argmax(&f[r * last..(r + 1) * last]) == argmax(&q[r * last..(r + 1) * last])
            })
            .count();
        agree as f64 / rows as f64
    });
    let row_cosine = (last >= 8 && rows >= 1 && !probabilities).then(|| {
        (0..rows)
            .map(|r| compare(&f[r * last..(r + 1) * last], &q[r * last..(r + 1) * last]).cosine)
            .sum::<f64>()
            / rows as f64
    });
    OutputRow {
        name: name.to_string(),
        shape: shape.to_vec(),
        metrics,
        top1_agreement,
        row_cosine,
        float_preview: f.iter().take(PREVIEW).copied().collect(),
        quantized_preview: q.iter().take(PREVIEW).copied().collect(),
    }
}

/// The top-level nodes in order, and the quantizable weights.
fn index_nodes(g: &GraphProto) -> (Vec<NodeInfo>, Vec<WeightInfo>) {
    let consts = proto::constants(g);
    let mut nodes = Vec::new();
    let mut weights: Vec<WeightInfo> = Vec::new();
    for (i, n) in g.node.iter().enumerate() {
        if n.op_type() == "Constant" {
            continue;
        }
        let index = nodes.len();
        let weight = if is_weight_op(n) {
            n.input.get(1).filter(|w| {
                consts
                    .get(*w)
                    .and_then(|t| float_tensor(w, t))
                    .is_some_and(|t| crate::export::rules::keep_reason(&t.info()).is_none())
            })
        } else {
            None
        }
        .cloned();
        if let Some(w) = &weight {
            match weights.iter_mut().find(|x| &x.name == w) {
                Some(x) => x.nodes.push(index),
                None => {
                    let t = consts
                        .get(w)
                        .map(|t| (proto::tensor_dims(t), proto::elem_dtype(t.data_type())));
                    let (shape, dtype) = t.unwrap_or_default();
                    weights.push(WeightInfo {
                        name: w.clone(),
                        shape,
                        dtype: dtype.unwrap_or(DType::F32),
                        nodes: vec![index],
                    });
                }
            }
        }
        nodes.push(NodeInfo {
            index,
            name: proto::node_name(n, i),
            op_type: n.op_type().to_string(),
            inputs: n.input.clone(),
            outputs: n.output.clone(),
            weight,
        });
    }
    (nodes, weights)
}

/// Inserts the engine's fake-quant op before each (node, input slot) of `acts`.
fn insert_fake_quant(g: &mut GraphProto, acts: &[(usize, usize, ActQuant)]) {
    if acts.is_empty() {
        return;
    }
    // Node indices in `acts` count non-Constant nodes; map them back.
    let positions: Vec<usize> = g
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type() != "Constant")
        .map(|(i, _)| i)
        .collect();
    let mut made: HashMap<String, String> = HashMap::new();
    let mut inserts: Vec<(usize, NodeProto)> = Vec::new();
    for (node, slot, q) in acts {
        let pos = positions[*node];
        let fq = match made.get(&q.value) {
            Some(n) => n.clone(),
            None => {
                let out = format!("{}_QuantscopeFakeQuant", q.value);
                inserts.push((
                    pos,
                    NodeProto {
                        name: Some(out.clone()),
                        op_type: Some(engine::FAKE_QUANT_OP.into()),
                        domain: Some(engine::FAKE_QUANT_DOMAIN.into()),
                        input: vec![q.value.clone()],
                        output: vec![out.clone()],
                        attribute: vec![
                            proto::attr_float("scale", q.scale),
                            proto::attr_int("zero_point", q.zero_point as i64),
                            proto::attr_int("qmin", q.qmin as i64),
                            proto::attr_int("qmax", q.qmax as i64),
                        ],
                        ..Default::default()
                    },
                ));
                made.insert(q.value.clone(), out.clone());
                out
            }
        };
        g.node[pos].input[*slot] = fq;
    }
    // Insert from the back so earlier positions stay valid; each goes right before the
    // first node that reads it, after the value's producer.
    inserts.sort_by_key(|(p, _)| std::cmp::Reverse(*p));
    for (p, n) in inserts {
        g.node.insert(p, n);
    }
}

fn add_opset(m: &mut ModelProto) {
    use crate::formats::generated::onnx::OperatorSetIdProto;
    if !m
        .opset_import
        .iter()
        .any(|o| o.domain() == engine::FAKE_QUANT_DOMAIN)
    {
        m.opset_import.push(OperatorSetIdProto {
            domain: Some(engine::FAKE_QUANT_DOMAIN.into()),
            version: Some(1),
        });
    }
}

/// Replaces every top-level If whose condition the inputs fix by the branch taken
/// (repeatedly, for Ifs inside branches), so that the branch's nodes are followed one by
/// one and its weights are quantizable.
fn resolve_ifs(model: &mut ModelProto, inputs: &[Named], notes: &mut Vec<String>) -> Result<()> {
    let mut failed: HashSet<String> = HashSet::new();
    for _ in 0..256 {
        let g = proto::graph(model)?;
        let Some((idx, node)) = g
            .node
            .iter()
            .enumerate()
            .find(|(i, n)| n.op_type() == "If" && !failed.contains(&proto::node_name(n, *i)))
            .map(|(i, n)| (i, n.clone()))
        else {
            return Ok(());
        };
        let name = proto::node_name(&node, idx);
        let Some(cond) = node.input.first().cloned() else {
            failed.insert(name);
            continue;
        };
        let slice = proto::slice_for(model, std::slice::from_ref(&cond))?;
        let feed: Vec<Named> = proto::graph(&slice)?
            .input
            .iter()
            .filter_map(|v| inputs.iter().find(|i| i.name == v.name()).cloned())
            .collect();
        let value = engine::load(&proto::encode(&slice), &feed, &[])
            .and_then(|p| p.run(&feed, |_, _| true));
        let taken = match value.as_deref() {
            Ok(
                [Named {
                    value: Value::Bool(b),
                    ..
                }],
            ) if b.len() == 1 => Some(b[0]),
            _ => None,
        };
        match taken {
            Some(c) => {
                let g = model
                    .graph
                    .as_mut()
                    .ok_or_else(|| Error::OnnxDecode("the model has no graph".into()))?;
                proto::inline_if(g, idx, c)?;
                notes.push(format!(
                    "If `{name}`: condition `{cond}` is {c} for these inputs; its {} branch is followed node by node",
                    if c { "then" } else { "else" }
                ));
            }
            None => {
                notes.push(format!(
                    "If `{name}`: its condition could not be computed from the inputs alone; the If runs as one node"
                ));
                failed.insert(name);
            }
        }
    }
    Ok(())
}

/// The model made runnable as it is (its own outputs only, no per-node bookkeeping): the
/// float run a benchmark times against another runtime.
pub struct Runner {
    plan: engine::Plan,
    inputs: Vec<Named>,
    pub input_info: Vec<InputInfo>,
}

/// An input of a [`Runner`], values as f32 (ids and masks as whole numbers).
#[derive(Clone, Debug, Serialize)]
pub struct InputValues {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

impl Runner {
    pub fn new(bytes: &[u8], external: &[(&str, &[u8])], options: &Options) -> Result<Runner> {
        let mut model = proto::decode(bytes)?;
        let g = model
            .graph
            .as_mut()
            .ok_or_else(|| Error::OnnxDecode("the model has no graph".into()))?;
        proto::inline_external(g, external)?;
        let specs = proto::input_specs(g)?;
        let (inputs, input_info) =
            inputs::build(g, &specs, &options.given, &options.dims, options.seed)?;
        let plan = engine::load(&proto::encode(&model), &inputs, &[])?;
        Ok(Runner {
            plan,
            inputs,
            input_info,
        })
    }

    /// One run; the graph's outputs' element count (so that the work cannot be elided).
    pub fn run(&self) -> Result<usize> {
        let out = self.plan.run(&self.inputs, |_, _| true)?;
        Ok(out.iter().map(|o| o.shape.iter().product::<usize>()).sum())
    }

    pub fn inputs(&self) -> Vec<InputValues> {
        self.inputs
            .iter()
            .zip(&self.input_info)
            .map(|(n, i)| InputValues {
                name: n.name.clone(),
                dtype: i.dtype,
                shape: n.shape.clone(),
                values: match &n.value {
                    Value::F32(v) => v.iter().map(|&x| x as f64).collect(),
                    Value::I64(v) => v.iter().map(|&x| x as f64).collect(),
                    Value::I32(v) => v.iter().map(|&x| x as f64).collect(),
                    Value::Bool(v) => v.iter().map(|&x| x as u8 as f64).collect(),
                    Value::Other(_) => Vec::new(),
                },
            })
            .collect()
    }
}
