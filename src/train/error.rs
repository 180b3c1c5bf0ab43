//! candle's errors as the core's: the one conversion every part of the lab uses.

use crate::error::Error;

pub(crate) fn candle_err(e: candle_core::Error) -> Error {
    Error::Invalid(format!("training: {e}"))
}
