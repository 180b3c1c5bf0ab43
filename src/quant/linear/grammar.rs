//! The linear family's string form: `[<tool>-]{int|uint}<bits>[-sym|-asym][-tensor|-ch<axis>|-group<size>[-ax<axis>]][-reduced][-<range>][-<rounding>]`,
//! parsed token by token in any order and printed in that canonical order.

use std::fmt;

use super::spec::{Granularity, LinearScheme};
use crate::quant::convention::{self, Convention};
use crate::quant::range::RangeMethod;
use crate::quant::rounding::Rounding;

impl fmt::Display for LinearScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.signed { "int" } else { "uint" };
        write!(f, "{}{sign}{}", self.convention.prefix(), self.bits)?;
        if self.convention.writes_symmetry() {
            f.write_str(if self.symmetric { "-sym" } else { "-asym" })?;
        }
        match self.granularity {
            Granularity::PerTensor => {}
            Granularity::PerChannel { axis } => write!(f, "-ch{axis}")?,
            Granularity::PerGroup { size, axis } => {
                write!(f, "-group{size}")?;
                if let Some(a) = axis {
                    write!(f, "-ax{a}")?;
                }
            }
        }
        if self.reduce_range {
            f.write_str("-reduced")?;
        }
        if self.range != RangeMethod::MinMax {
            write!(f, "-{}", self.range)?;
        }
        if self.rounding != Rounding::HalfEven {
            write!(f, "-{}", self.rounding)?;
        }
        Ok(())
    }
}

/// Parses a linear string (`[<tool>-]{int|uint}<bits>-...`, lower case). None when the
/// string is not of this family.
pub fn parse(s: &str) -> Option<std::result::Result<LinearScheme, String>> {
    let (convention, rest) = Convention::strip(s);
    if convention == Convention::Plain && !(s.starts_with("int") || s.starts_with("uint")) {
        return None;
    }
    Some(parse_with(convention, rest))
}

fn number<T: std::str::FromStr>(
    tok: &str,
    digits: &str,
    want: &str,
) -> std::result::Result<T, String> {
    digits
        .parse()
        .map_err(|_| format!("`{tok}`: expected {want}"))
}

/// Parses the linear grammar under a convention (the preset prefix already removed).
pub fn parse_with(convention: Convention, s: &str) -> std::result::Result<LinearScheme, String> {
    let mut toks = s.split('-').peekable();
    let head = toks.next().unwrap_or_default();
    let (signed, digits) = if let Some(d) = head.strip_prefix("uint") {
        (false, d)
    } else if let Some(d) = head.strip_prefix("int") {
        (true, d)
    } else {
        return Err(format!(
            "`{head}`: expected int<bits> or uint<bits>, e.g. int8"
        ));
    };
    let bits: u8 = digits
        .parse()
        .map_err(|_| "bits must be a number, e.g. int8".to_string())?;
    if !(2..=8).contains(&bits) && bits != 16 {
        return Err("bits must be between 2 and 8, or 16".to_string());
    }
    let mut symmetric = None;
    let mut granularity = None;
    let mut range = None;
    let mut rounding = None;
    let mut reduce_range = false;
    fn once<T>(slot: &mut Option<T>, v: T, tok: &str) -> std::result::Result<(), String> {
        if slot.is_some() {
            return Err(format!("`{tok}`: this kind of token was already given"));
        }
        *slot = Some(v);
        Ok(())
    }
    while let Some(tok) = toks.next() {
        match tok {
            "sym" => once(&mut symmetric, true, tok)?,
            "asym" => once(&mut symmetric, false, tok)?,
            "tensor" => once(&mut granularity, Granularity::PerTensor, tok)?,
            "ch" => once(&mut granularity, Granularity::PerChannel { axis: 0 }, tok)?,
            "reduced" => reduce_range = true,
            _ if tok.starts_with("ch") => {
                let axis = number(tok, &tok[2..], "ch<axis>, e.g. ch0")?;
                once(&mut granularity, Granularity::PerChannel { axis }, tok)?
            }
            _ if tok.starts_with("group") => {
                let size: usize = number(tok, &tok[5..], "group<size>, e.g. group128")?;
                if size == 0 {
                    return Err(format!("`{tok}`: the group size must be at least 1"));
                }
                let axis = match toks.peek() {
                    Some(next) if next.starts_with("ax") => {
                        let next = toks.next().unwrap_or_default();
                        Some(number(next, &next[2..], "ax<axis>, e.g. ax0")?)
                    }
                    _ => None,
                };
                once(&mut granularity, Granularity::PerGroup { size, axis }, tok)?
            }
            _ => {
                if let Some(r) = RangeMethod::parse(tok) {
                    once(&mut range, r?, tok)?
                } else if let Some(r) = Rounding::parse(tok) {
                    once(&mut rounding, r?, tok)?
                } else if tok.starts_with("ax") {
                    return Err(format!("`{tok}`: ax<axis> only follows group<size>"));
                } else {
                    return Err(format!(
                        "`{tok}`: expected sym, asym, tensor, ch<axis>, group<size>, minmax, pct<p>, mse, kl, rne, rna or sr<seed>"
                    ));
                }
            }
        }
    }
    let scheme = LinearScheme {
        bits,
        signed,
        symmetric: symmetric.unwrap_or(convention.default_symmetric()),
        granularity: granularity.unwrap_or(Granularity::PerTensor),
        range: range.unwrap_or_default(),
        rounding: rounding.unwrap_or_default(),
        convention,
        reduce_range,
    };
    convention::validate(&scheme)?;
    Ok(scheme)
}
