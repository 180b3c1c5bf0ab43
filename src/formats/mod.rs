//! Model file formats: one file per container, detected by magic bytes, not by extension.

pub mod npy;
pub mod safetensors;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::tensor::{Tensor, TensorInfo};

/// The container a model came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Safetensors,
    Npy,
    Npz,
}

/// Every tensor of one file, decoded to f32, plus the file's free-form metadata.
#[derive(Clone, Debug)]
pub struct Model {
    pub format: Format,
    pub tensors: Vec<Tensor>,
    pub metadata: BTreeMap<String, String>,
}

/// What `inspect` and the page's tensor list show.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    pub format: Format,
    pub tensors: Vec<TensorInfo>,
    pub metadata: BTreeMap<String, String>,
    pub total_params: usize,
    pub total_bytes: usize,
}

impl Model {
    pub fn tensor(&self, name: &str) -> Result<&Tensor> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::NoSuchTensor(name.to_string()))
    }

    pub fn info(&self) -> ModelInfo {
        let tensors: Vec<TensorInfo> = self.tensors.iter().map(Tensor::info).collect();
        ModelInfo {
            format: self.format,
            total_params: tensors.iter().map(|t| t.numel).sum(),
            total_bytes: tensors.iter().map(|t| t.size_bytes).sum(),
            tensors,
            metadata: self.metadata.clone(),
        }
    }
}

/// Tells the format from the first bytes of a file.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(npy::NPY_MAGIC) {
        Some(Format::Npy)
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        Some(Format::Npz)
    } else if safetensors::looks_like(bytes) {
        Some(Format::Safetensors)
    } else {
        None
    }
}

/// Opens a model from its bytes. `name` is only used in messages and, for a lone .npy,
/// as the tensor's name.
pub fn open(bytes: &[u8], name: &str) -> Result<Model> {
    if bytes.is_empty() {
        return Err(Error::EmptyFile(name.to_string()));
    }
    match detect(bytes) {
        Some(Format::Safetensors) => safetensors::read(bytes),
        Some(Format::Npy) => npy::read_npy(bytes, name),
        Some(Format::Npz) => npy::read_npz(bytes),
        None => Err(Error::UnknownFormat {
            name: name.to_string(),
            head: describe_head(bytes),
        }),
    }
}

/// The first bytes of a file, printable, for an error message.
fn describe_head(bytes: &[u8]) -> String {
    let head: String = bytes
        .iter()
        .take(8)
        .map(|&b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect();
    format!("\"{head}\"")
}

/// Checks that `shape` describes no more bytes than `available` before anything is
/// allocated for it, so a lying header cannot make us allocate more than the file holds.
pub(crate) fn checked_numel(
    name: &str,
    shape: &[u64],
    item_size: usize,
    available: usize,
) -> Result<usize> {
    let too_large = |needed: String| Error::ShapeTooLarge {
        name: name.to_string(),
        shape: shape.to_vec(),
        needed,
        available,
    };
    let mut numel: u64 = 1;
    for &d in shape {
        numel = numel
            .checked_mul(d)
            .ok_or_else(|| too_large("more than 2^64".into()))?;
    }
    let bytes = numel
        .checked_mul(item_size as u64)
        .ok_or_else(|| too_large("more than 2^64".into()))?;
    if bytes > available as u64 {
        return Err(too_large(bytes.to_string()));
    }
    Ok(numel as usize)
}
