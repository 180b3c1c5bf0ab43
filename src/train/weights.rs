//! The lab's models in plain form (no candle type): which network, and each layer's
//! float parameters. What export, evaluation and the page exchange.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Mlp,
    Cnn,
}

impl FromStr for ModelKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<ModelKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mlp" => Ok(ModelKind::Mlp),
            "cnn" => Ok(ModelKind::Cnn),
            _ => Err(Error::Invalid(format!(
                "unknown model `{s}`; expected mlp or cnn"
            ))),
        }
    }
}

/// One layer's float parameters: weight (C order) and bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerWeights {
    pub name: String,
    /// (out, in) for a linear layer, (out, in, 3, 3) for a convolution.
    pub shape: Vec<usize>,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}
