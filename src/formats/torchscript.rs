//! placeholder
use super::Model;
use crate::error::{Error, Result};
pub fn read(_bytes: &[u8], name: &str) -> Result<Model> {
    Err(Error::NotYetSupported {
        format: "torchscript".into(),
        reason: name.into(),
    })
}
