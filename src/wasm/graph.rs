//! Whole-model runs (src/graph/): a session holding the float run, quantized runs with
//! per-node reports, and the QDQ export (`GraphSession`); with `bench-hooks`, the plain
//! float run the benchmark times against onnxruntime-web (`GraphRunner`).

use wasm_bindgen::prelude::*;

use super::{js_err as err, to_js};
use crate::graph::{self, Options, RunReport, Session, Step};
use crate::Scheme;

/// Calls `progress(stage, done, total)`; a `false` return (strictly) cancels.
fn reporter(progress: &js_sys::Function) -> impl FnMut(Step) -> bool + '_ {
    move |s: Step| {
        let r = progress.call3(
            &JsValue::NULL,
            &JsValue::from_str(s.stage),
            &JsValue::from(s.done as u32),
            &JsValue::from(s.total as u32),
        );
        !matches!(r, Ok(v) if v == JsValue::FALSE)
    }
}

/// A model opened for whole-model runs (`quantscope run` in the page).
#[wasm_bindgen(js_name = GraphSession)]
pub struct WasmGraphSession {
    session: Session,
    bytes: Vec<u8>,
    external: Vec<(String, Vec<u8>)>,
    last: Option<(Scheme, RunReport)>,
}

#[wasm_bindgen(js_class = GraphSession)]
impl WasmGraphSession {
    /// Opens an ONNX model (`external`: [name, bytes] pairs of its external data files)
    /// and runs it float. `dims` is an object of symbolic dimension -> size; `inputs` an
    /// optional .npz (or .npy) of the user's inputs, `inputsName` its file name.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        bytes: Vec<u8>,
        external_names: Vec<String>,
        external: Vec<js_sys::Uint8Array>,
        dims: JsValue,
        seed: u64,
        inputs: Option<Vec<u8>>,
        inputs_name: Option<String>,
        progress: &js_sys::Function,
    ) -> Result<WasmGraphSession, JsError> {
        let dims: std::collections::BTreeMap<String, usize> = if dims.is_undefined()
            || dims.is_null()
        {
            Default::default()
        } else {
            serde_wasm_bindgen::from_value(dims).map_err(|e| JsError::new(&format!("dims: {e}")))?
        };
        let given = match inputs {
            Some(b) => graph::read_inputs(&b, inputs_name.as_deref().unwrap_or("inputs.npz"))
                .map_err(err)?,
            None => Vec::new(),
        };
        let external: Vec<(String, Vec<u8>)> = external_names
            .into_iter()
            .zip(external)
            .map(|(n, b)| (n, b.to_vec()))
            .collect();
        let ext: Vec<(&str, &[u8])> = external
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let options = Options { dims, seed, given };
        let session =
            Session::open_with(&bytes, &ext, &options, &mut reporter(progress)).map_err(err)?;
        Ok(WasmGraphSession {
            session,
            bytes,
            external,
            last: None,
        })
    }

    /// Inputs, nodes (topological order), quantizable weights, outputs, notes.
    pub fn info(&self) -> Result<JsValue, JsError> {
        to_js(&self.session.info())
    }

    /// A quantized run: every weight op's weight under `scheme` except the nodes in
    /// `exclude`; `mode` "weights" or "full" (activations by `act`). The report is
    /// `quantscope run --json`'s.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        scheme: &str,
        mode: &str,
        act: &str,
        exclude: Vec<String>,
        isolated: bool,
        progress: &js_sys::Function,
    ) -> Result<JsValue, JsError> {
        let scheme: Scheme = scheme.parse().map_err(err)?;
        let mode = graph::parse_mode(mode, act).map_err(err)?;
        let policy = self
            .session
            .uniform_policy(&scheme, &exclude)
            .map_err(err)?;
        let report = self
            .session
            .run_with(&policy, &mode, isolated, &mut reporter(progress))
            .map_err(err)?;
        let js = to_js(&report)?;
        self.last = Some((scheme, report));
        Ok(js)
    }

    /// The graph's outputs, float and of the last quantized run, whole.
    pub fn outputs(&self) -> Result<JsValue, JsError> {
        to_js(&self.session.output_values())
    }

    /// The float run's values of a node output (or graph input), empty when it is not
    /// a float tensor.
    #[wasm_bindgen(js_name = floatValue)]
    pub fn float_value(&self, name: &str) -> Vec<f32> {
        self.session
            .float_value(name)
            .map(|(_, v)| v.to_vec())
            .unwrap_or_default()
    }

    /// The last run as an ONNX QDQ model (excluded nodes float).
    #[wasm_bindgen(js_name = exportQdq)]
    pub fn export_qdq(&self) -> Result<Vec<u8>, JsError> {
        let (scheme, report) = self
            .last
            .as_ref()
            .ok_or_else(|| JsError::new("run the model quantized first"))?;
        let ext: Vec<(&str, &[u8])> = self
            .external
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        graph::export::write_qdq(&self.bytes, &ext, &self.session, scheme, report).map_err(err)
    }
}

/// A model as it is, made runnable once for generated inputs: the float run the
/// benchmark (scripts/bench/whole_model.mjs) times against onnxruntime-web.
#[cfg(feature = "bench-hooks")]
#[wasm_bindgen(js_name = GraphRunner)]
pub struct WasmGraphRunner {
    runner: graph::Runner,
}

#[cfg(feature = "bench-hooks")]
#[wasm_bindgen(js_class = GraphRunner)]
impl WasmGraphRunner {
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8], dims: JsValue, seed: u64) -> Result<WasmGraphRunner, JsError> {
        let dims: std::collections::BTreeMap<String, usize> = if dims.is_undefined()
            || dims.is_null()
        {
            Default::default()
        } else {
            serde_wasm_bindgen::from_value(dims).map_err(|e| JsError::new(&format!("dims: {e}")))?
        };
        let options = Options {
            dims,
            seed,
            given: Vec::new(),
        };
        Ok(WasmGraphRunner {
            runner: graph::Runner::new(bytes, &[], &options).map_err(err)?,
        })
    }

    /// One float run; returns the outputs' element count.
    pub fn run(&self) -> Result<usize, JsError> {
        self.runner.run().map_err(err)
    }

    /// The generated inputs, to feed another runtime the same values.
    pub fn inputs(&self) -> Result<JsValue, JsError> {
        to_js(&self.runner.inputs())
    }
}
