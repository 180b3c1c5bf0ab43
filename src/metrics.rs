//! Error metrics between original and reconstructed values, and histograms.

use serde::Serialize;

/// How far a reconstruction `y` is from the original `x`. Sums run in f64, in index
/// order, so native and wasm builds report identical numbers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct Metrics {
    /// Mean of (y - x)^2.
    pub mse: f64,
    /// Signal-to-quantization-noise ratio in dB: 10 log10(Σx² / Σ(y-x)²), as ONNX
    /// Runtime's debugging tool reports it. +inf when reconstruction is exact (JSON: null).
    pub sqnr_db: f64,
    /// cos(x, y); 1 when both are all zero.
    pub cosine: f64,
    /// max |y - x|.
    pub max_abs_error: f64,
}

pub fn compare(x: &[f32], y: &[f32]) -> Metrics {
    assert_eq!(x.len(), y.len());
    let (mut sxx, mut syy, mut sxy, mut see, mut emax) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for (&a, &b) in x.iter().zip(y) {
        let (a, b) = (a as f64, b as f64);
        let e = b - a;
        sxx += a * a;
        syy += b * b;
        sxy += a * b;
        see += e * e;
        emax = emax.max(e.abs());
    }
    let n = x.len().max(1) as f64;
    let sqnr_db = if see == 0.0 {
        f64::INFINITY
    } else {
        // libm's log10, not std's: std calls the platform's C library natively and a
        // different implementation on wasm32, and they disagree in the last bit on
        // some inputs, so the page and the CLI would print different SQNRs.
        10.0 * libm::log10(sxx / see)
    };
    let cosine = if sxx == 0.0 && syy == 0.0 {
        1.0
    } else if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    };
    Metrics {
        mse: see / n,
        sqnr_db,
        cosine,
        max_abs_error: emax,
    }
}

/// Counts of values in `bins` equal-width bins spanning [lo, hi]; the last bin is closed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct Histogram {
    pub lo: f32,
    pub hi: f32,
    pub counts: Vec<u32>,
}

impl Histogram {
    /// Width of one bin.
    pub fn bin_width(&self) -> f32 {
        (self.hi - self.lo) / self.counts.len().max(1) as f32
    }
}

/// Histogram over the data's own range. A constant input gets the range [v - 0.5,
/// v + 0.5] so it still has a width; an empty one gets [0, 1] with zero counts.
pub fn histogram(x: &[f32], bins: usize) -> Histogram {
    let bins = bins.max(1);
    let (lo, hi, _) = crate::kernels::min_max(x);
    let (lo, hi) = if x.is_empty() || !lo.is_finite() || !hi.is_finite() {
        (0.0, 1.0)
    } else if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let mut counts = vec![0u32; bins];
    let k = bins as f32 / (hi - lo);
    for &v in x {
        if v >= lo && v <= hi {
            let b = (((v - lo) * k) as usize).min(bins - 1);
            counts[b] += 1;
        }
    }
    Histogram { lo, hi, counts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_reconstruction_is_infinite_sqnr() {
        let m = compare(&[1.0, -2.0], &[1.0, -2.0]);
        assert_eq!(m.mse, 0.0);
        assert!(m.sqnr_db.is_infinite());
        assert_eq!(m.cosine, 1.0);
    }

    #[test]
    fn known_error() {
        // x = (3, 4): ||x||² = 25; e = (0, -1): Σe² = 1 -> 10 log10(25) dB.
        let m = compare(&[3.0, 4.0], &[3.0, 3.0]);
        assert_eq!(m.mse, 0.5);
        assert!((m.sqnr_db - 10.0 * 25f64.log10()).abs() < 1e-12);
        assert_eq!(m.max_abs_error, 1.0);
    }

    #[test]
    fn histogram_counts_every_value_once() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin()).collect();
        let h = histogram(&x, 64);
        assert_eq!(h.counts.iter().sum::<u32>(), 1000);
        assert_eq!(h.counts.len(), 64);
        let constant = histogram(&[2.0; 5], 8);
        assert_eq!(constant.counts.iter().sum::<u32>(), 5);
        assert!(constant.lo < 2.0 && constant.hi > 2.0);
        assert_eq!(histogram(&[], 8).counts, vec![0; 8]);
    }
}
