//! `AutoSearch`: the automatic mixed-precision search (src/auto/) for the page's worker.
//! The worker measures the table one tensor at a time (yielding between tensors, so a
//! cancel gets through), then the page moves the budget over the front it got back
//! without calling in here again; only "measure this mix", the uniform points and the
//! exports come back.

use wasm_bindgen::prelude::*;

use super::{js_err, to_js};
use crate::auto::{self, measure, Candidate, Measurer, Objective, Sensitivity, TensorOptions};
use crate::export::policy::Assign;
use crate::formats::source::{ByteSource, InMemory};
use crate::graph::{self, Mode, Session};
use crate::TensorStore;

#[wasm_bindgen(js_name = AutoSearch)]
pub struct WasmAuto {
    bytes: Vec<u8>,
    /// The model run float (None when the graph cannot run: weights objective only).
    session: Option<Session>,
    /// Why the graph cannot run.
    unrunnable: Option<String>,
    store: crate::formats::ModelFile,
    labels: Option<Vec<i64>>,
    mode: Mode,
    // The search under way / done.
    objective: Objective,
    candidates: Vec<Candidate>,
    rows: Vec<TensorOptions>,
    table: Option<Sensitivity>,
    /// Model runs (or weight encodings) made so far: the e2e test holds the budget
    /// control to none.
    measurements: u32,
    /// The candidates `begin`'s format left out, for the report's notes.
    format_note: Option<String>,
}

fn ext_refs(external: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    external
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect()
}

impl WasmAuto {
    /// The objective's measurer over this model, and how many measurements it has made.
    fn with_measurer<R>(
        &mut self,
        f: impl FnOnce(&mut dyn Measurer) -> crate::Result<R>,
    ) -> Result<R, JsError> {
        let (r, n) = match (self.objective, self.session.as_mut()) {
            (Objective::Weights, _) => {
                let axes = graph::probe::output_axes(&self.bytes).unwrap_or_default();
                let mut m = measure::WeightsMeasure::new(&self.store, &axes).map_err(js_err)?;
                let r = f(&mut m).map_err(js_err)?;
                (r, m.encodings)
            }
            (Objective::Output, Some(s)) => {
                let mut m = measure::OutputMeasure::new(s, self.mode.clone());
                let r = f(&mut m).map_err(js_err)?;
                (r, m.runs)
            }
            (Objective::Accuracy, Some(s)) => {
                let labels = self.labels.clone().ok_or_else(|| {
                    JsError::new("the accuracy objective needs labelled inputs (an .npz with the labels array named)")
                })?;
                let mut m =
                    measure::AccuracyMeasure::new(s, self.mode.clone(), labels).map_err(js_err)?;
                let r = f(&mut m).map_err(js_err)?;
                (r, m.runs())
            }
            (_, None) => {
                return Err(JsError::new(&format!(
                    "the model cannot run ({}); only the weights objective (a proxy) is available",
                    self.unrunnable.as_deref().unwrap_or("no graph")
                )))
            }
        };
        self.measurements += n as u32;
        Ok(r)
    }

    fn table(&self) -> Result<&Sensitivity, JsError> {
        self.table
            .as_ref()
            .ok_or_else(|| JsError::new("measure the sensitivity first"))
    }
}

#[wasm_bindgen(js_class = AutoSearch)]
impl WasmAuto {
    /// Opens `bytes` (an ONNX model, with its external data files as `[{name, bytes}]`,
    /// or any model file for the weights objective) and runs it float when it can.
    /// `inputs`: an .npz (or .npy) of probe inputs; `options`: `{ dims: {name: n}, seed,
    /// inputsName?, labels? }` (the inputs' file name, and the name of its labels array).
    #[wasm_bindgen(constructor)]
    pub fn new(
        bytes: Box<[u8]>,
        file_name: &str,
        external: js_sys::Array,
        inputs: Option<Box<[u8]>>,
        options: JsValue,
    ) -> Result<WasmAuto, JsError> {
        let mut ext = Vec::new();
        for f in external.iter() {
            let get = |k: &str| {
                js_sys::Reflect::get(&f, &JsValue::from_str(k))
                    .map_err(|_| JsError::new(&format!("external file entry has no `{k}`")))
            };
            let name = get("name")?
                .as_string()
                .ok_or_else(|| JsError::new("external file entry: `name` is not a string"))?;
            let b: js_sys::Uint8Array = wasm_bindgen::JsCast::dyn_into(get("bytes")?)
                .map_err(|_| JsError::new(&format!("{name}: `bytes` is not a Uint8Array")))?;
            ext.push((name, b.to_vec()));
        }
        let opts: AutoOptions = if options.is_undefined() || options.is_null() {
            AutoOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&e.to_string()))?
        };
        let bytes = bytes.into_vec();
        let refs = ext_refs(&ext);
        let mut files: Vec<(String, Box<dyn ByteSource>)> =
            vec![(file_name.to_string(), Box::new(InMemory(bytes.clone())))];
        for (n, b) in &ext {
            files.push((n.clone(), Box::new(InMemory(b.clone()))));
        }
        let store = crate::formats::ModelFile::open(files).map_err(js_err)?;
        let is_onnx = store.info().format == crate::Format::Onnx;
        let mut given = match &inputs {
            Some(b) => graph::read_inputs(b, opts.inputs_name.as_deref().unwrap_or("inputs.npz"))
                .map_err(js_err)?,
            None => Vec::new(),
        };
        let labels = match &opts.labels {
            Some(l) => {
                let i = given.iter().position(|t| &t.name == l).ok_or_else(|| {
                    JsError::new(&format!(
                        "labels `{l}`: no array of that name in the inputs"
                    ))
                })?;
                Some(given.remove(i).data.iter().map(|&v| v as i64).collect())
            }
            None => None,
        };
        let (session, unrunnable) = if is_onnx {
            let options = graph::Options {
                dims: opts.dims.clone(),
                seed: opts.seed,
                given,
            };
            match Session::open(&bytes, &refs, &options) {
                Ok(s) => (Some(s), None),
                Err(e @ crate::Error::UnsupportedOps { .. }) => (None, Some(e.to_string())),
                Err(e) => return Err(js_err(e)),
            }
        } else {
            (None, Some("not an ONNX model".into()))
        };
        Ok(WasmAuto {
            bytes,
            session,
            unrunnable,
            store,
            labels,
            mode: Mode::Weights,
            objective: Objective::Weights,
            candidates: Vec::new(),
            rows: Vec::new(),
            table: None,
            measurements: 0,
            format_note: None,
        })
    }

    /// Why the model cannot run (None when it runs).
    pub fn unrunnable(&self) -> Option<String> {
        self.unrunnable.clone()
    }

    /// Whether labels were given (the accuracy objective is available).
    #[wasm_bindgen(js_name = hasLabels)]
    pub fn has_labels(&self) -> bool {
        self.labels.is_some()
    }

    /// The default candidates, as `quantscope auto` has them.
    #[wasm_bindgen(js_name = defaultCandidates)]
    pub fn default_candidates() -> Vec<String> {
        auto::candidates::DEFAULT
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// Starts a search: `candidates` comma-separated, `objective` output, accuracy or
    /// weights. Returns the number of tensors to measure (call `measureTensor(i)` for
    /// each, then `finish`).
    ///
    /// `format` (onnx, gguf, safetensors) keeps to the candidates one file of that format
    /// stores (`quantscope auto --format`); the report's notes name those left out.
    pub fn begin(
        &mut self,
        candidates: &str,
        objective: &str,
        format: Option<String>,
    ) -> Result<usize, JsError> {
        let mut list = Candidate::parse_list(&[candidates.to_string()]).map_err(js_err)?;
        self.format_note = None;
        if let Some(f) = format.as_deref().filter(|f| !f.is_empty()) {
            let f = crate::export::ExportFormat::parse(f).map_err(js_err)?;
            let (kept, note) = Candidate::for_format(list, f).map_err(js_err)?;
            list = kept;
            self.format_note = note;
        }
        self.candidates = list;
        self.objective = Objective::parse(objective).map_err(js_err)?;
        self.rows.clear();
        self.table = None;
        let n = self.with_measurer(|m| Ok(m.tensors().len()))?;
        if n == 0 {
            return Err(JsError::new(
                "the model has no quantizable tensor (float tensors of two or more axes feeding MatMul/Gemm/Conv)",
            ));
        }
        Ok(n)
    }

    /// Measures tensor `i`'s candidates (in order: the rows must come 0, 1, 2, ...).
    #[wasm_bindgen(js_name = measureTensor)]
    pub fn measure_tensor(&mut self, i: usize) -> Result<String, JsError> {
        if i != self.rows.len() {
            return Err(JsError::new(&format!(
                "tensor #{i} measured out of order (next is #{})",
                self.rows.len()
            )));
        }
        let candidates = self.candidates.clone();
        let row = self.with_measurer(|m| {
            let space = m.tensors();
            let t = space
                .get(i)
                .ok_or_else(|| crate::Error::Auto(format!("no tensor #{i}")))?;
            Ok(auto::sensitivity_row(m, &candidates, i, t)?.0)
        })?;
        let name = row.name.clone();
        self.rows.push(row);
        Ok(name)
    }

    /// Ends the measurement: the search's report with no budget (`Report`: the front,
    /// the uniform schemes measured as a whole, the table), as `quantscope auto --json`
    /// prints it.
    pub fn finish(&mut self) -> Result<JsValue, JsError> {
        let candidates = self.candidates.clone();
        let rows = std::mem::take(&mut self.rows);
        let n = rows.iter().map(|r| r.options.len() - 1).sum::<usize>();
        let table = self.with_measurer(|m| Ok(auto::assemble(m, &candidates, rows, n)))?;
        let now = || js_sys::Date::now();
        let mut report = self.with_measurer(|m| auto::search(&table, Some(m), &[], &now))?;
        report.notes.extend(self.format_note.clone());
        self.table = Some(table);
        to_js(&FinishReport {
            front_choices: self
                .table()?
                .front()
                .map_err(js_err)?
                .into_iter()
                .map(|p| p.choice)
                .collect(),
            report,
        })
    }

    /// Measures a mix (option index per tensor) as a whole: `{ measured, measured_damage }`.
    pub fn check(&mut self, choice: &[u16]) -> Result<JsValue, JsError> {
        let table = self.table()?.clone();
        if choice.len() != table.tensors.len() {
            return Err(JsError::new("the choice has the wrong number of tensors"));
        }
        let mut mix = table.mix(choice);
        self.with_measurer(|m| table.check(m, &mut mix))?;
        to_js(&mix)
    }

    /// Model runs or encodings made so far.
    pub fn measurements(&self) -> u32 {
        self.measurements
    }

    /// The mix as a file (`onnx`, `gguf`, `safetensors`): `{ bytes, report }`.
    #[wasm_bindgen(js_name = exportMix)]
    pub fn export_mix(&self, format: &str, choice: &[u16]) -> Result<JsValue, JsError> {
        let table = self.table()?;
        let mix = table.mix(choice);
        let policy = auto::policy::tensor_policy(table, &mix).map_err(js_err)?;
        let format = crate::export::ExportFormat::parse(format).map_err(js_err)?;
        let e = crate::export::export_with(&self.store, format, Assign::PerTensor(&policy))
            .map_err(js_err)?;
        let out = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| {
            js_sys::Reflect::set(&out, &JsValue::from_str(k), v)
                .map(|_| ())
                .map_err(|_| JsError::new("could not build the export result"))
        };
        set("bytes", &js_sys::Uint8Array::from(e.bytes.as_slice()))?;
        set("report", &to_js(&e.report)?)?;
        Ok(out.into())
    }

    /// The mix as the policy file `quantscope quantize --policy` reads.
    #[wasm_bindgen(js_name = policyJson)]
    pub fn policy_json(&self, choice: &[u16]) -> Result<String, JsError> {
        let table = self.table()?;
        auto::policy::policy_json(table, &table.mix(choice)).map_err(js_err)
    }

    /// llama.cpp's `--tensor-type` lines and ONNX Runtime's recipe for the mix:
    /// `{ llama_cpp: string[], onnxruntime: OrtRecipe }`.
    pub fn recipes(&self, choice: &[u16]) -> Result<JsValue, JsError> {
        let table = self.table()?;
        let mix = table.mix(choice);
        let nodes_of = |w: &str| -> Vec<String> {
            self.session
                .as_ref()
                .and_then(|s| {
                    s.weights
                        .iter()
                        .find(|x| x.name == w)
                        .map(|x| x.nodes.iter().map(|&i| s.nodes[i].name.clone()).collect())
                })
                .unwrap_or_default()
        };
        to_js(&Recipes {
            llama_cpp: auto::policy::llama_cpp_lines(table, &mix).map_err(js_err)?,
            onnxruntime: auto::policy::ort_recipe(table, &mix, &nodes_of).map_err(js_err)?,
        })
    }
}

#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutoOptions {
    #[serde(default)]
    dims: std::collections::BTreeMap<String, usize>,
    #[serde(default)]
    seed: u64,
    inputs_name: Option<String>,
    labels: Option<String>,
}

#[derive(serde::Serialize)]
struct FinishReport {
    #[serde(flatten)]
    report: auto::Report,
    /// The option index per tensor of each front point (parallel to `front`).
    front_choices: Vec<Vec<u16>>,
}

#[derive(serde::Serialize)]
struct Recipes {
    llama_cpp: Vec<String>,
    onnxruntime: auto::policy::OrtRecipe,
}
