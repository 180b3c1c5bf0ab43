//! What every scheme family shares: the [`Encoded`] result trait, the [`Grid`] drawn
//! over a histogram, and the check that a tensor holds only finite values.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::kernels;
use crate::tensor::Tensor;

/// The representable values of one channel (or block) of an encoded tensor, drawn over
/// the weight histogram.
#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct Grid {
    /// For schemes with several parameter sets, which one this grid belongs to.
    pub channel: Option<usize>,
    pub levels: Vec<f32>,
}

/// What every scheme produces: an encoded tensor that can reconstruct itself and say
/// what it costs. Each scheme family's result type implements it.
pub trait Encoded {
    /// Reconstructed values, C order, one per input element.
    fn dequantize(&self) -> Vec<f32>;
    /// Bytes of the stored form: codes at their real bit width plus every parameter
    /// (scales, zero points, codebooks, outlier values and their indices).
    fn packed_bytes(&self) -> usize;
    /// One line on the parameters, for people ("8-bit codes -127..127, 64 scales along axis 0").
    fn describe(&self) -> String;
    /// Scales per channel, group or block, where the scheme has them.
    fn scales(&self) -> Vec<f32> {
        Vec::new()
    }
    /// Zero points matching [`Encoded::scales`], where the scheme has them.
    fn zero_points(&self) -> Vec<i32> {
        Vec::new()
    }
    /// The axis the scales run along, if any.
    fn axis(&self) -> Option<usize> {
        None
    }
    /// Representable values to draw over the weight histogram.
    fn grid(&self) -> Grid {
        Grid::default()
    }
}

/// Refuses a tensor holding NaN or infinite values, naming how many and the first.
pub(crate) fn check_finite(t: &Tensor) -> Result<()> {
    let (_, _, finite) = kernels::min_max(&t.data);
    if finite {
        return Ok(());
    }
    let mut bad = t.data.iter().enumerate().filter(|(_, v)| !v.is_finite());
    let first = bad.next().map(|(i, _)| i).unwrap_or(0);
    Err(Error::NonFinite {
        name: t.name.clone(),
        count: 1 + bad.count(),
        first,
    })
}
