//! Quantization schemes: how a scheme is described ([`Scheme`], parseable from a short
//! string such as `int8-sym-ch0`) and one file per scheme family.

pub mod linear;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use linear::{Granularity, LinearScheme, QuantizedLinear};

/// A quantization scheme. The string form (`Display` / `FromStr`) is what the CLI, the
/// worker protocol and the page's URL carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scheme {
    Linear(LinearScheme),
}

impl Scheme {
    /// The schemes the page offers first.
    pub fn presets() -> Vec<Scheme> {
        ["int8-sym-ch0", "int8-sym", "int8-asym", "int8-asym-ch0"]
            .iter()
            .map(|s| s.parse().expect("preset schemes parse"))
            .collect()
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheme::Linear(l) => l.fmt(f),
        }
    }
}

impl FromStr for Scheme {
    type Err = Error;

    /// Grammar: `int{2..8}-{sym|asym}[-{tensor|ch|ch<axis>}]`; per-tensor when the
    /// granularity is left out, `ch` alone means axis 0 (output channels of a weight).
    fn from_str(s: &str) -> Result<Scheme> {
        let bad = |reason: &str| Error::BadScheme {
            spec: s.to_string(),
            reason: reason.to_string(),
        };
        let lower = s.trim().to_ascii_lowercase();
        let mut parts = lower.split('-');
        let head = parts.next().unwrap_or_default();
        let bits: u8 = head
            .strip_prefix("int")
            .ok_or_else(|| bad("expected a name starting with `int`, e.g. int8-sym-ch0"))?
            .parse()
            .map_err(|_| bad("bits must be a number, e.g. int8"))?;
        if !(2..=8).contains(&bits) {
            return Err(bad("bits must be between 2 and 8"));
        }
        let symmetric = match parts.next() {
            None | Some("sym") => true,
            Some("asym") => false,
            Some(other) => return Err(bad(&format!("`{other}`: expected sym or asym"))),
        };
        let granularity = match parts.next() {
            None | Some("tensor") => Granularity::PerTensor,
            Some("ch") => Granularity::PerChannel { axis: 0 },
            Some(g) if g.starts_with("ch") => Granularity::PerChannel {
                axis: g[2..]
                    .parse()
                    .map_err(|_| bad(&format!("`{g}`: expected ch<axis>, e.g. ch0")))?,
            },
            Some(other) => return Err(bad(&format!("`{other}`: expected tensor, ch or ch<axis>"))),
        };
        if let Some(extra) = parts.next() {
            return Err(bad(&format!("unexpected `{extra}`")));
        }
        Ok(Scheme::Linear(LinearScheme {
            bits,
            symmetric,
            granularity,
        }))
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
    fn bad_strings_name_the_problem() {
        for (s, needle) in [
            ("fp8", "int"),
            ("int9-sym", "between 2 and 8"),
            ("int8-foo", "`foo`"),
            ("int8-sym-chx", "`chx`"),
            ("int8-sym-ch0-x", "`x`"),
        ] {
            let e = s.parse::<Scheme>().unwrap_err().to_string();
            assert!(e.contains(needle), "{s}: {e}");
        }
    }
}
