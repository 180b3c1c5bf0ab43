//! [`Scheme`]: one enum over the scheme families, its string form (`Display` /
//! `FromStr`: each family parses its own names) and encoding with it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::encoded::Encoded;
use super::float::{self, FloatScheme};
use super::ggml::{self, GgmlScheme};
use super::linear::{self, LinearScheme};
use super::log::{self, LogScheme};
use super::mixed::{self, MixedScheme};
use super::nf4::{self, FourBitScheme};
use super::vq::{self, VqScheme};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A quantization scheme. The string form (`Display` / `FromStr`) is what the CLI, the
/// worker protocol and the page's URL carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scheme {
    Linear(LinearScheme),
    /// NF4 / FP4 (bitsandbytes).
    FourBit(FourBitScheme),
    /// FP16, BF16, FP8 casts.
    Float(FloatScheme),
    /// Powers of two and additive powers of two.
    Log(LogScheme),
    /// k-means, optimal 1-D k-means, product quantization.
    Vq(VqScheme),
    /// INT8 with FP16 outlier columns.
    Mixed(MixedScheme),
    Ggml(GgmlScheme),
}

impl Scheme {
    /// The schemes the page offers first.
    pub fn presets() -> Vec<Scheme> {
        ["int8-sym-ch0", "int8-sym", "int8-asym", "int8-asym-ch0"]
            .iter()
            .map(|s| s.parse().expect("preset schemes parse"))
            .collect()
    }

    /// Encodes a tensor with this scheme.
    pub fn encode(&self, t: &Tensor) -> Result<Box<dyn Encoded>> {
        Ok(match self {
            Scheme::Linear(l) => Box::new(l.quantize(t)?),
            Scheme::FourBit(s) => Box::new(s.quantize(t)?),
            Scheme::Float(s) => Box::new(s.quantize(t)?),
            Scheme::Log(s) => Box::new(s.quantize(t)?),
            Scheme::Vq(s) => Box::new(s.quantize(t)?),
            Scheme::Mixed(s) => Box::new(s.quantize(t)?),
            Scheme::Ggml(g) => Box::new(g.quantize(t)?),
        })
    }

    /// Nominal code width in bits (before parameters).
    pub fn bits(&self) -> u8 {
        match self {
            Scheme::Linear(l) => l.bits,
            Scheme::FourBit(_) => 4,
            Scheme::Float(s) => s.format.bits(),
            Scheme::Log(s) => s.bits,
            // Bits of one code (PQ: one code per sub-vector).
            Scheme::Vq(s) => vq::code_bits(s.k),
            Scheme::Mixed(_) => 8,
            Scheme::Ggml(g) => g.format.code_bits(),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheme::Linear(l) => l.fmt(f),
            Scheme::FourBit(s) => s.fmt(f),
            Scheme::Float(s) => s.fmt(f),
            Scheme::Log(s) => s.fmt(f),
            Scheme::Vq(s) => s.fmt(f),
            Scheme::Mixed(s) => s.fmt(f),
            Scheme::Ggml(g) => g.fmt(f),
        }
    }
}

impl FromStr for Scheme {
    type Err = Error;

    /// Each family recognises its own names (`linear::parse` takes `int…`, `uint…` and the tool prefixes); the first
    /// that claims the string parses it.
    fn from_str(s: &str) -> Result<Scheme> {
        let lower = s.trim().to_ascii_lowercase();
        if let Some(r) = linear::parse(&lower) {
            return r.map(Scheme::Linear).map_err(|reason| Error::BadScheme {
                spec: s.to_string(),
                reason,
            });
        }
        let bad = |reason| Error::BadScheme {
            spec: s.to_string(),
            reason,
        };
        if let Some(r) = nf4::parse(&lower) {
            return r.map(Scheme::FourBit).map_err(bad);
        }
        if let Some(r) = float::parse(&lower) {
            return r.map(Scheme::Float).map_err(bad);
        }
        if let Some(r) = log::parse(&lower) {
            return r.map(Scheme::Log).map_err(bad);
        }
        if let Some(r) = vq::parse(&lower) {
            return r.map(Scheme::Vq).map_err(bad);
        }
        if let Some(r) = mixed::parse(&lower) {
            return r.map(Scheme::Mixed).map_err(bad);
        }
        if let Some(r) = ggml::parse(&lower) {
            return r.map(Scheme::Ggml).map_err(bad);
        }
        Err(Error::BadScheme {
            spec: s.to_string(),
            reason: "unknown scheme; expected e.g. int8-sym-ch0, int4-asym".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip() {
        for s in ["int8-sym", "int8-asym-ch0", "int4-sym-ch1", "int2-asym"] {
            let scheme: Scheme = s.parse().unwrap();
            assert_eq!(scheme.to_string(), s);
        }
        assert_eq!(
            "int8-sym-ch".parse::<Scheme>().unwrap().to_string(),
            "int8-sym-ch0"
        );
        assert_eq!("INT8".parse::<Scheme>().unwrap().to_string(), "int8-sym");
    }

    #[test]
    fn json_form_round_trips_exactly() {
        // Found by fuzz/fuzz_targets/scheme.rs: without serde_json's float_roundtrip the
        // percentile came back one ulp off, another scheme.
        for s in [
            "uint8-asym-pct0.99933333333333333333333333333333",
            "int8-pct99.999",
        ] {
            let scheme: Scheme = s.parse().unwrap();
            let json = serde_json::to_string(&scheme).unwrap();
            assert_eq!(
                serde_json::from_str::<Scheme>(&json).unwrap(),
                scheme,
                "{json}"
            );
        }
    }

    #[test]
    fn bad_strings_name_the_problem() {
        for (s, needle) in [
            ("fp9", "unknown scheme"),
            ("int9-sym", "between 2 and 8"),
            ("ort-int3-sym", "4, 8 or 16"),
            ("tflite-int8-asym", "symmetric int8"),
            ("tfjs-uint8-ch0", "one scale per tensor"),
            ("int8-sym-group0", "at least 1"),
            ("int8-pct200", "percentile"),
            ("int8-sym-reduced", "reduce_range"),
            ("torch-int8-sym-rna", "rounding"),
            ("int8-foo", "`foo`"),
            ("int8-sym-chx", "`chx`"),
            ("int8-sym-ch0-x", "`x`"),
        ] {
            let e = s.parse::<Scheme>().unwrap_err().to_string();
            assert!(e.contains(needle), "{s}: {e}");
        }
    }
}
