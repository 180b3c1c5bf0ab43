//! Checks several tool conventions share: a tool that fixes its own rounding, a tool
//! that only takes the min-max range.

use crate::quant::linear::spec::LinearScheme;
use crate::quant::range::RangeMethod;
use crate::quant::rounding::Rounding;

/// Refuses a rounding token under a tool (`tool`) that rounds its own way.
pub(super) fn fixed_rounding(s: &LinearScheme, tool: &str) -> Result<(), String> {
    if s.rounding != Rounding::HalfEven {
        return Err(format!(
            "{tool} fixes its own rounding; `{}` applies to the plain linear schemes",
            s.rounding
        ));
    }
    Ok(())
}

/// Refuses a range estimator under a tool (`tool`) whose preset takes the min-max range.
pub(super) fn minmax_only(s: &LinearScheme, tool: &str) -> Result<(), String> {
    if s.range != RangeMethod::MinMax {
        return Err(format!(
            "the {tool} preset takes the min-max range; `{}` applies to plain and ort- schemes",
            s.range
        ));
    }
    Ok(())
}
