//! Quantization schemes: how a scheme is described ([`Scheme`], parseable from a short
//! string such as `int8-sym-ch0`) and one file (or folder) per scheme family.
//!
//! - [`scheme`]: the [`Scheme`] enum and its grammar's entry point; [`form`]: the
//!   grammar as a form (families, options, defaults) for the page's picker;
//! - [`encoded`]: what every family's result shares ([`Encoded`], [`Grid`]);
//! - [`linear`]: uniform integer codes (grammar, layout, quantizer), with the tools'
//!   conventions in [`convention`], one file per tool;
//! - [`range`], [`rounding`], [`pack`]: the linear family's range estimators, rounding
//!   modes and bit packing;
//! - [`float`], [`nf4`], [`log`], [`vq`], [`mixed`], [`ggml`]: the other families.

pub mod convention;
pub mod encoded;
pub mod float;
pub mod form;
pub mod ggml;
pub mod linear;
pub mod log;
pub mod mixed;
pub mod nf4;
pub mod pack;
pub mod range;
pub mod rounding;
pub mod scheme;
pub mod vq;

pub use convention::Convention;
pub use encoded::{Encoded, Grid};
pub use float::{FloatFormat, FloatScheme};
pub use ggml::{GgmlScheme, GgmlType, QuantizedGgml};
pub use linear::{Granularity, LinearScheme, QuantizedLinear};
pub use log::LogScheme;
pub use mixed::{MixedScheme, OutlierRule};
pub use nf4::{FourBitFormat, FourBitScheme};
pub use range::RangeMethod;
pub use rounding::Rounding;
pub use scheme::Scheme;
pub use vq::{VqMethod, VqScheme};
