//! `Model`: an opened model, its tensor list, and the per-tensor reports.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::{js_err, scheme, source, to_js};
use crate::budget::{self, Budget, Operation};
use crate::formats::source::{ByteSource, InMemory};
use crate::formats::ModelFile;
use crate::{analysis, Tensor, TensorStore};

/// An opened model: tensors listed from the file's header and read one at a time where
/// the format allows it (safetensors, GGUF), else decoded when opened.
#[wasm_bindgen(js_name = Model)]
pub struct WasmModel {
    pub(super) model: ModelFile,
    /// The tensor read last, for the next call about the same tensor (the page asks
    /// for one tensor under several schemes in a row). At most one tensor is held.
    last: RefCell<Option<Rc<Tensor>>>,
}

impl WasmModel {
    fn wrap(model: ModelFile) -> WasmModel {
        WasmModel {
            model,
            last: RefCell::new(None),
        }
    }

    /// Refuses `operation` on tensor `name` under `scheme` before it is read when it
    /// would exceed the page's budget ([`Budget::wasm32`], less what the open model
    /// already holds decoded).
    pub(super) fn fits(
        &self,
        name: &str,
        scheme: &crate::Scheme,
        operation: Operation,
    ) -> Result<(), JsError> {
        let budget = Budget::wasm32(self.model.resident_bytes(name));
        budget::check_tensor(&budget, &self.model, name, scheme, operation).map_err(js_err)
    }

    /// Runs `f` on tensor `name`, read once for a run of calls about the same tensor.
    pub(super) fn with_tensor<R>(
        &self,
        name: &str,
        f: impl FnOnce(&Tensor) -> Result<R, JsError>,
    ) -> Result<R, JsError> {
        let cached = self
            .last
            .borrow()
            .as_ref()
            .filter(|t| t.name == name)
            .cloned();
        if let Some(t) = cached {
            return f(&t);
        }
        // Let go of the previous tensor before reading the next: at most one is held.
        self.last.replace(None);
        match self.model.load(name).map_err(js_err)? {
            Cow::Borrowed(t) => f(t),
            Cow::Owned(t) => {
                let t = Rc::new(t);
                self.last.replace(Some(t.clone()));
                f(&t)
            }
        }
    }
}

#[wasm_bindgen(js_class = Model)]
impl WasmModel {
    /// Opens a model from the file's bytes; the name is for messages and .npy tensor names.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8], file_name: &str) -> Result<WasmModel, JsError> {
        let src: Box<dyn ByteSource> = Box::new(InMemory(bytes.to_vec()));
        let model = ModelFile::open(vec![(file_name.to_string(), src)]).map_err(js_err)?;
        Ok(WasmModel::wrap(model))
    }

    /// Opens one or several files as one model (shards, ONNX external data) without
    /// copying them in: `files` is an array of `{ name, size, read(offset, length) }`,
    /// where `read` returns exactly `length` bytes as a Uint8Array.
    #[wasm_bindgen(js_name = openFiles)]
    pub fn open_files(files: js_sys::Array) -> Result<WasmModel, JsError> {
        let sources = source::sources(files)?;
        Ok(WasmModel::wrap(ModelFile::open(sources).map_err(js_err)?))
    }

    /// True when tensors are read from the file on demand (safetensors, GGUF).
    #[wasm_bindgen(js_name = isLazy)]
    pub fn is_lazy(&self) -> bool {
        self.model.is_lazy()
    }

    /// Reads and decodes one tensor, keeps nothing, and returns its element count: the
    /// open/read benchmark (scripts/bench/open.mjs) times the reader with it.
    #[wasm_bindgen(js_name = readTensor)]
    pub fn read_tensor(&self, name: &str) -> Result<usize, JsError> {
        Ok(self.model.load(name).map_err(js_err)?.data.len())
    }

    /// Format, tensor list and metadata (`ModelInfo`).
    pub fn info(&self) -> Result<JsValue, JsError> {
        to_js(&self.model.info())
    }

    /// Full report of one tensor under one scheme (`TensorReport`).
    pub fn analyze(&self, tensor: &str, scheme_str: &str, bins: u32) -> Result<JsValue, JsError> {
        super::debug::check(tensor, scheme_str);
        let scheme = scheme(scheme_str)?;
        self.fits(
            tensor,
            &scheme,
            Operation::Analysis {
                bins: bins as usize,
            },
        )?;
        self.with_tensor(tensor, |t| {
            to_js(&analysis::analyze(t, &scheme, bins as usize).map_err(js_err)?)
        })
    }

    /// Metrics only (`TensorSummary`), for the whole-model table.
    pub fn summarize(&self, tensor: &str, scheme_str: &str) -> Result<JsValue, JsError> {
        super::debug::check(tensor, scheme_str);
        let scheme = scheme(scheme_str)?;
        self.fits(tensor, &scheme, Operation::Summary)?;
        self.with_tensor(tensor, |t| {
            to_js(&analysis::summarize(t, &scheme).map_err(js_err)?)
        })
    }
}
