//! Mixed INT8 + FP16, LLM.int8 style: outlier input columns stay in FP16, the rest is
//! int8 symmetric with one scale per output row.
//!
//! A weight is read as a matrix [rows, columns] with rows = the first axis (output
//! features) and columns = all the other axes flattened (for a 2-D weight [out, in],
//! the input features; a 1-D tensor is one row). A column is an outlier when
//! - `t<threshold>`: its largest |w| is at least the threshold (bitsandbytes' test
//!   `abs(A) >= threshold`), or
//! - `top<percent>`: it is among the ceil(percent / 100 * columns) columns with the
//!   largest max |w| (ties to the lower column index).
//!
//! Outlier columns are stored as FP16 (round to nearest even, beyond ±65504 saturated as
//! in quant/float.rs, so a huge f32 weight stays finite) with their u32
//! column indices; the other columns are quantized by the linear int8 code
//! (`int8-sym-ch0`, ONNX Runtime's conventions, codes -127..127) after the outlier
//! columns are set to zero, so the outliers do not widen the row scales.

use std::fmt;

use half::f16;
use serde::{Deserialize, Serialize};

use super::encoded::{check_finite, Encoded, Grid};
use super::float::FloatFormat;
use super::linear::{Granularity, LinearScheme, QuantizedLinear};
use crate::error::Result;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", content = "value", rename_all = "snake_case")]
pub enum OutlierRule {
    /// Columns whose max |w| is at least this.
    Threshold(f32),
    /// This percentage of columns, those with the largest max |w|.
    TopPercent(f32),
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixedScheme {
    pub outliers: OutlierRule,
}

// The parser accepts only finite numbers, so equality is reflexive.
impl Eq for MixedScheme {}

impl fmt::Display for MixedScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.outliers {
            OutlierRule::Threshold(t) => write!(f, "mixed-int8-fp16-t{t}"),
            OutlierRule::TopPercent(p) => write!(f, "mixed-int8-fp16-top{p}"),
        }
    }
}

/// Parses `mixed-int8-fp16-{t<threshold>|top<percent>}`; None when the string is not
/// of this family.
pub fn parse(s: &str) -> Option<std::result::Result<MixedScheme, String>> {
    let rest = s.strip_prefix("mixed")?;
    Some((|| {
        let rule = rest.strip_prefix("-int8-fp16-").ok_or_else(|| {
            "expected mixed-int8-fp16-t<threshold> or mixed-int8-fp16-top<percent>".to_string()
        })?;
        let num = |v: &str, what: &str| -> std::result::Result<f32, String> {
            v.parse::<f32>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("`{v}`: {what} must be a number"))
        };
        let outliers = if let Some(p) = rule.strip_prefix("top") {
            let p = num(p, "percent")?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(format!("top{p}: percent must be above 0 and at most 100"));
            }
            OutlierRule::TopPercent(p)
        } else if let Some(t) = rule.strip_prefix('t') {
            let t = num(t, "threshold")?;
            if t <= 0.0 {
                return Err(format!("t{t}: the threshold must be above 0"));
            }
            OutlierRule::Threshold(t)
        } else {
            return Err(format!("`{rule}`: expected t<threshold> or top<percent>"));
        };
        Ok(MixedScheme { outliers })
    })())
}

impl MixedScheme {
    pub fn quantize(&self, t: &Tensor) -> Result<Mixed> {
        check_finite(t)?;
        // A 2-D (or higher) weight has its output rows first; a vector is one row.
        let rows = if t.shape.len() >= 2 { t.shape[0] } else { 1 };
        let cols = t.numel().checked_div(rows).unwrap_or(0);
        let mut colmax = vec![0f32; cols];
        for r in t.data.chunks(cols.max(1)) {
            for (m, v) in colmax.iter_mut().zip(r) {
                *m = m.max(v.abs());
            }
        }
        let mut outlier: Vec<usize> = match self.outliers {
            OutlierRule::Threshold(th) => (0..cols).filter(|&c| colmax[c] >= th).collect(),
            OutlierRule::TopPercent(p) => {
                let n = ((p as f64 / 100.0 * cols as f64).ceil() as usize).min(cols);
                let mut order: Vec<usize> = (0..cols).collect();
                // Stable: equal maxima keep the lower column first.
                order.sort_by(|&a, &b| colmax[b].total_cmp(&colmax[a]));
                order.truncate(n);
                order
            }
        };
        outlier.sort_unstable();
        let mut is_out = vec![false; cols];
        for &c in &outlier {
            is_out[c] = true;
        }
        let mut rest = Tensor {
            name: t.name.clone(),
            shape: vec![rows, cols],
            dtype: t.dtype,
            data: t.data.clone(),
        };
        let mut fp16 = Vec::with_capacity(rows * outlier.len());
        for r in rest.data.chunks_mut(cols.max(1)) {
            for &c in &outlier {
                fp16.push(f16::from_bits(FloatFormat::Fp16.encode(r[c])));
                r[c] = 0.0;
            }
        }
        let int8 =
            LinearScheme::new(8, true, Granularity::PerChannel { axis: 0 }).quantize(&rest)?;
        Ok(Mixed {
            scheme: *self,
            rows,
            cols,
            outlier_cols: outlier,
            fp16,
            int8,
        })
    }
}

/// A tensor split into int8 columns and FP16 outlier columns.
#[derive(Clone, Debug)]
pub struct Mixed {
    pub scheme: MixedScheme,
    pub rows: usize,
    pub cols: usize,
    /// Outlier column indices, ascending.
    pub outlier_cols: Vec<usize>,
    /// Outlier values, row by row, in `outlier_cols` order.
    pub fp16: Vec<f16>,
    /// All columns, outliers as zero codes (not stored: only the others count).
    pub int8: QuantizedLinear,
}

impl Mixed {
    /// Share of columns (and so of values) kept in FP16.
    pub fn outlier_fraction(&self) -> f64 {
        self.outlier_cols.len() as f64 / self.cols.max(1) as f64
    }
}

impl Encoded for Mixed {
    fn dequantize(&self) -> Vec<f32> {
        let mut out = self.int8.dequantize();
        let n = self.outlier_cols.len();
        if n > 0 {
            for (r, vals) in out.chunks_mut(self.cols).zip(self.fp16.chunks(n)) {
                for (&c, v) in self.outlier_cols.iter().zip(vals) {
                    r[c] = v.to_f32();
                }
            }
        }
        out
    }

    /// int8 codes of the non-outlier columns, one f32 scale per row, two bytes per
    /// outlier value and four per outlier column index.
    fn packed_bytes(&self) -> usize {
        let n = self.outlier_cols.len();
        self.rows * (self.cols - n) + 4 * self.int8.params.len() + 2 * self.fp16.len() + 4 * n
    }

    fn describe(&self) -> String {
        format!(
            "int8 codes -127..127 with {} row scales; {} of {} input columns ({:.2}%) in FP16",
            self.int8.params.len(),
            self.outlier_cols.len(),
            self.cols,
            100.0 * self.outlier_fraction()
        )
    }

    fn scales(&self) -> Vec<f32> {
        self.int8.scales()
    }

    fn zero_points(&self) -> Vec<i32> {
        self.int8.zero_points()
    }

    fn axis(&self) -> Option<usize> {
        Some(0)
    }

    /// The int8 grid of the widest row.
    fn grid(&self) -> Grid {
        self.int8.grid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            "mixed-int8-fp16-t6",
            "mixed-int8-fp16-top1",
            "mixed-int8-fp16-t0.5",
            "mixed-int8-fp16-top0.1",
        ] {
            assert_eq!(parse(s).unwrap().unwrap().to_string(), s);
        }
        assert!(parse("int8").is_none());
        for (s, needle) in [
            ("mixed-int4-fp16-t6", "expected mixed-int8-fp16"),
            ("mixed-int8-fp16-top0", "above 0"),
            ("mixed-int8-fp16-top101", "at most 100"),
            ("mixed-int8-fp16-t-1", "above 0"),
            ("mixed-int8-fp16-tx", "`x`"),
            ("mixed-int8-fp16-tnan", "`nan`"),
            ("mixed-int8-fp16-q3", "`q3`"),
        ] {
            let e = parse(s).unwrap().unwrap_err();
            assert!(e.contains(needle), "{s}: {e}");
        }
    }
}
