//! The training lab's binding: converts at the edge, holds no logic of its own (the
//! page's training worker drives [`crate::train::Session`] one epoch per call).
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::{js_err, to_js};
use crate::export::ExportFormat;
use crate::train::{self, Dataset, Session, TrainConfig, TrainResult, TrainedModel};

fn config(v: JsValue) -> Result<TrainConfig, JsError> {
    let cfg: TrainConfig = serde_wasm_bindgen::from_value(v)
        .map_err(|e| JsError::new(&format!("training settings: {e}")))?;
    cfg.validate().map_err(js_err)?;
    Ok(cfg)
}

#[derive(Serialize)]
struct DataInfo {
    n_train: usize,
    n_test: usize,
    classes: usize,
    sample_shape: Vec<usize>,
    /// Whether the CNN can take the samples (images, or a square number of values).
    images: bool,
}

/// What an .npz holds for training, or the reason it is refused.
#[wasm_bindgen(js_name = trainDataInfo)]
pub fn train_data_info(bytes: &[u8], name: &str) -> Result<JsValue, JsError> {
    let d = Dataset::from_npz(bytes, name).map_err(js_err)?;
    to_js(&DataInfo {
        n_train: d.n_train(),
        n_test: d.n_test(),
        classes: d.classes,
        sample_shape: d.sample_shape.clone(),
        images: d.image_shape().is_ok(),
    })
}

/// One training run, stepped an epoch at a time by the worker.
#[wasm_bindgen(js_name = TrainSession)]
pub struct WasmTrainSession {
    session: Option<Session>,
    result: Option<TrainResult>,
}

#[wasm_bindgen(js_class = TrainSession)]
impl WasmTrainSession {
    /// A run on the .npz `bytes` with `config` (a `TrainConfig` object); with `teacher`
    /// (a `TrainedModel` from an earlier run's `teacher()`), the float phase is skipped.
    #[wasm_bindgen(constructor)]
    pub fn new(
        bytes: &[u8],
        name: &str,
        config_value: JsValue,
        teacher: JsValue,
    ) -> Result<WasmTrainSession, JsError> {
        let cfg = config(config_value)?;
        let data = Dataset::from_npz(bytes, name).map_err(js_err)?;
        let session = if teacher.is_null() || teacher.is_undefined() {
            Session::new(cfg, data)
        } else {
            let t: TrainedModel = serde_wasm_bindgen::from_value(teacher)
                .map_err(|e| JsError::new(&format!("float model: {e}")))?;
            Session::with_teacher(cfg, data, &t)
        }
        .map_err(js_err)?;
        Ok(WasmTrainSession {
            session: Some(session),
            result: None,
        })
    }

    /// Epochs the run has in all (float phase included, unless skipped).
    #[wasm_bindgen(js_name = totalEpochs)]
    pub fn total_epochs(&self) -> usize {
        self.session.as_ref().map(|s| s.total_epochs()).unwrap_or(0)
    }

    /// Trains one epoch and returns its `EpochPoint`, or null when the run is done.
    pub fn step(&mut self) -> Result<JsValue, JsError> {
        match self.session.as_mut() {
            None => Ok(JsValue::NULL),
            Some(s) => match s.step().map_err(js_err)? {
                Some(p) => to_js(&p),
                None => Ok(JsValue::NULL),
            },
        }
    }

    /// The float model once trained (a `TrainedModel`), or null.
    pub fn teacher(&self) -> Result<JsValue, JsError> {
        match self.session.as_ref().map(|s| s.teacher()) {
            Some(Ok(Some(t))) => to_js(&t),
            Some(Err(e)) => Err(js_err(e)),
            _ => Ok(JsValue::NULL),
        }
    }

    /// Ends the run (training what is left) and returns its `TrainResult`.
    pub fn finish(&mut self) -> Result<JsValue, JsError> {
        if let Some(s) = self.session.take() {
            self.result = Some(s.finish().map_err(js_err)?);
        }
        match &self.result {
            Some(r) => to_js(r),
            None => Err(JsError::new("the run has no result")),
        }
    }

    /// The finished run's quantized model as `onnx` or `safetensors` bytes.
    pub fn export(&self, format: &str) -> Result<Vec<u8>, JsError> {
        let r = self
            .result
            .as_ref()
            .ok_or_else(|| JsError::new("finish the run before exporting it"))?;
        let f = ExportFormat::parse(format).map_err(js_err)?;
        Ok(train::export::write(r, f).map_err(js_err)?.bytes)
    }
}
