//! The layer report on `Model`: float versus int8 outputs of one linear layer.

use wasm_bindgen::prelude::*;

use super::model::WasmModel;
use super::{js_err, scheme, to_js};
use crate::budget::Operation;
use crate::{analysis, kernels, Scheme, Tensor};

#[wasm_bindgen(js_class = Model)]
impl WasmModel {
    /// Float versus int8 outputs of one layer (`LayerReport`): `probe` is `gaussian` or
    /// `uniform`, `batch` rows, seeded; activations quantized per row (int8 asymmetric).
    pub fn layer(
        &self,
        tensor: &str,
        scheme_str: &str,
        probe: &str,
        batch: u32,
        seed: u32,
    ) -> Result<JsValue, JsError> {
        self.layer_row(tensor, scheme_str, probe, batch, seed, 0)
    }

    /// [`layer`](Self::layer) showing the outputs of probe row `row` (the page's layer
    /// panel); `quantscope layer --row` prints the same report.
    #[wasm_bindgen(js_name = layerRow)]
    pub fn layer_row(
        &self,
        tensor: &str,
        scheme_str: &str,
        probe: &str,
        batch: u32,
        seed: u32,
        row: u32,
    ) -> Result<JsValue, JsError> {
        let probe = analysis::layer::Probe::parse(probe).map_err(js_err)?;
        super::debug::check(tensor, scheme_str);
        let scheme = scheme(scheme_str)?;
        self.fits(
            tensor,
            &scheme,
            Operation::Layer {
                batch: batch as usize,
            },
        )?;
        self.with_tensor(tensor, |t| run_layer(t, &scheme, &probe, batch, seed, row))
    }

    /// The layer report on a user's inputs: `inputs` are the bytes of an .npy file of
    /// [batch, in] or [in] values (named after `inputs_name`, as the CLI names it), which
    /// bring their own row count.
    #[wasm_bindgen(js_name = layerInputs)]
    pub fn layer_inputs(
        &self,
        tensor: &str,
        scheme_str: &str,
        inputs: &[u8],
        inputs_name: &str,
        row: u32,
    ) -> Result<JsValue, JsError> {
        super::debug::check(tensor, scheme_str);
        let scheme = scheme(scheme_str)?;
        let x = crate::formats::npy::read_npy(inputs, inputs_name).map_err(js_err)?;
        let x = x
            .tensors
            .into_iter()
            .next()
            .ok_or_else(|| JsError::new(&format!("{inputs_name} holds no array")))?;
        let rows = x.numel() / x.shape.last().copied().unwrap_or(1).max(1);
        self.fits(tensor, &scheme, Operation::Layer { batch: rows })?;
        let probe = analysis::layer::Probe::Data(x);
        self.with_tensor(tensor, |t| run_layer(t, &scheme, &probe, 0, 0, row))
    }
}

/// The layer report shown at `row`, activations int8 asymmetric per row, 64 error bins.
fn run_layer(
    t: &Tensor,
    scheme: &Scheme,
    probe: &analysis::layer::Probe,
    batch: u32,
    seed: u32,
    row: u32,
) -> Result<JsValue, JsError> {
    let r = analysis::layer::layer_row(
        t,
        scheme,
        probe,
        batch as usize,
        seed as u64,
        kernels::gemm::ActQuant::Asym8,
        64,
        row as usize,
    )
    .map_err(js_err)?;
    to_js(&r)
}
