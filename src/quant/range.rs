//! Range estimators: which [lo, hi] of a tensor (or of one channel or group) the linear
//! grid covers. Min-max, ONNX Runtime's percentile and entropy (KL) calibrators, and an
//! MSE-optimal clip search.
//!
//! The histogram estimators reproduce ONNX Runtime's `HistogramCollector`
//! (onnxruntime/quantization/calibrate.py): numpy's `histogram` with f32 bin edges
//! (`linspace` evaluated in f32), ORT's cumulative-sum percentile, and ORT's entropy search
//! including its integer truncation of the expanded candidate distribution and its
//! smoothing. Written by hand because the product is exactly this arithmetic.

use std::fmt;

use serde::{Deserialize, Serialize};

/// ONNX Runtime's default percentile (PercentileCalibrater).
pub const DEFAULT_PERCENTILE: f64 = 99.999;
/// Histogram bins of the percentile and entropy estimators (ORT's percentile default; the
/// TensorRT entropy recipe; ORT's entropy default is 128, which is too coarse for weights).
pub const HIST_BINS: usize = 2048;
/// Bins of the candidate (quantized) distribution in the entropy search (ORT's default).
pub const KL_QUANTIZED_BINS: usize = 128;

/// Clip ratios the MSE search tries: 1.00, 0.99, ..., 0.20 (81 candidates). The range
/// `[r * lo, r * hi]` with the smallest reconstruction MSE wins; ties keep the wider range.
pub fn mse_ratios() -> impl Iterator<Item = f32> {
    (0..=80).map(|k| (100 - k) as f32 / 100.0)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum RangeMethod {
    /// The smallest and largest value (token `minmax`, the default).
    #[default]
    MinMax,
    /// ONNX Runtime's percentile calibrator over a 2048-bin histogram (token `pct<p>`):
    /// of |x| for symmetric schemes (ORT `symmetric=True`), of x for affine ones, cutting
    /// (100 - p) / 2 percent on each side.
    Percentile { percentile: f64 },
    /// The clip ratio (see [`mse_ratios`]) minimising reconstruction MSE (token `mse`).
    Mse,
    /// ONNX Runtime's entropy calibrator (TensorRT's KL search) over 2048 bins with 128
    /// quantized bins (token `kl`).
    Kl,
}

// Percentiles are checked finite when parsed, so equality is reflexive.
impl Eq for RangeMethod {}

impl RangeMethod {
    /// Parses a range token, or None when the token is not one.
    pub fn parse(tok: &str) -> Option<Result<RangeMethod, String>> {
        match tok {
            "minmax" => Some(Ok(RangeMethod::MinMax)),
            "mse" => Some(Ok(RangeMethod::Mse)),
            "kl" => Some(Ok(RangeMethod::Kl)),
            _ => {
                let p = tok.strip_prefix("pct")?;
                Some(match p.parse::<f64>() {
                    Ok(v) if v > 0.0 && v <= 100.0 => Ok(RangeMethod::Percentile { percentile: v }),
                    _ => Err(format!(
                        "`{tok}`: percentile must be a number in (0, 100], e.g. pct99.999"
                    )),
                })
            }
        }
    }
}

impl fmt::Display for RangeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RangeMethod::MinMax => f.write_str("minmax"),
            RangeMethod::Percentile { percentile } => write!(f, "pct{percentile}"),
            RangeMethod::Mse => f.write_str("mse"),
            RangeMethod::Kl => f.write_str("kl"),
        }
    }
}

/// Smallest and largest value; (0, 0) for no values.
pub fn min_max(x: &[f32]) -> (f32, f32) {
    if x.is_empty() {
        return (0.0, 0.0);
    }
    let (lo, hi, _) = crate::kernels::min_max(x);
    (lo, hi)
}

/// numpy.histogram(x, bins, range=(first, last)) for f32 data: counts and f32 edges.
/// None when the range is too narrow for `bins` distinct f32 edges (numpy raises there).
fn histogram(x: &[f32], bins: usize, first: f32, last: f32) -> Option<(Vec<u64>, Vec<f32>)> {
    let (first, last) = if first == last {
        (first - 0.5, last + 0.5)
    } else {
        (first, last)
    };
    // linspace(first, last, bins + 1) in f32: i * step + first, the last edge exact.
    let step = (last - first) / bins as f32;
    if step == 0.0 {
        return None;
    }
    let mut edges: Vec<f32> = (0..=bins).map(|i| i as f32 * step + first).collect();
    edges[bins] = last;
    if edges.windows(2).any(|w| w[0] >= w[1]) {
        return None;
    }
    let mut hist = vec![0u64; bins];
    let denom = last - first;
    for &v in x {
        if !(v >= first && v <= last) {
            continue;
        }
        // numpy's index estimate, then its one-step corrections against the edges.
        let mut i = (((v - first) / denom) * bins as f32) as usize;
        if i >= bins {
            i = bins - 1;
        }
        if v < edges[i] && i > 0 {
            i -= 1;
        }
        if v >= edges[i + 1] && i != bins - 1 {
            i += 1;
        }
        hist[i] += 1;
    }
    Some((hist, edges))
}

/// ONNX Runtime's percentile calibrator on one set of values (see [`RangeMethod`]).
pub fn percentile(x: &[f32], pct: f64, symmetric: bool) -> (f32, f32) {
    if x.is_empty() {
        return (0.0, 0.0);
    }
    let (min, max) = min_max(x);
    let hist = if symmetric {
        let abs: Vec<f32> = x.iter().map(|v| v.abs()).collect();
        let (alo, ahi) = min_max(&abs);
        histogram(&abs, HIST_BINS, alo, ahi)
    } else {
        let t = min.abs().max(max.abs());
        histogram(x, HIST_BINS, -t, t)
    };
    let Some((hist, edges)) = hist else {
        return (min, max);
    };
    let total: u64 = hist.iter().sum();
    let mut cdf = Vec::with_capacity(hist.len());
    let mut acc = 0f64;
    for &h in &hist {
        acc += h as f64 / total as f64;
        cdf.push(acc);
    }
    let search = |v: f64| cdf.partition_point(|&c| c < v);
    let (mut lo, mut hi) = if symmetric {
        let e = edges[search(pct / 100.0)];
        (-e, e)
    } else {
        let cut = (100.0 - pct) / 200.0;
        (edges[search(cut)], edges[search(1.0 - cut)])
    };
    if lo < min {
        lo = min;
    }
    if hi > max {
        hi = max;
    }
    (lo, hi)
}

/// The amount ONNX Runtime's smooth_distribution adds to each bin of a distribution with
/// `zeros` empty bins out of `len`: zeros get 1e-4, the others lose the same mass evenly.
/// None when every bin is empty. In f32 as ORT computes it.
fn smoothing(zeros: usize, len: usize) -> Option<(f32, f32)> {
    let nonzeros = len - zeros;
    if nonzeros == 0 {
        return None;
    }
    let eps = 0.0001f64;
    Some((eps as f32, -((eps * zeros as f64 / nonzeros as f64) as f32)))
}

/// ONNX Runtime's entropy calibrator (`get_entropy_threshold`) on one set of values.
pub fn entropy(x: &[f32]) -> (f32, f32) {
    if x.is_empty() {
        return (0.0, 0.0);
    }
    let (min, max) = min_max(x);
    let t = min.abs().max(max.abs());
    let Some((hist, edges)) = histogram(x, HIST_BINS, -t, t) else {
        return (min, max);
    };
    let hist: Vec<i64> = hist.into_iter().map(|v| v as i64).collect();
    let nb = hist.len();
    let zero = nb / 2;
    let nq = KL_QUANTIZED_BINS;
    let mut prefix = vec![0i64; nb + 1];
    for (i, &h) in hist.iter().enumerate() {
        prefix[i + 1] = prefix[i] + h;
    }
    let mut nz_prefix = vec![0usize; nb + 1];
    for (i, &h) in hist.iter().enumerate() {
        nz_prefix[i + 1] = nz_prefix[i] + (h != 0) as usize;
    }
    let mut qv = vec![0i64; nq];
    let nz_idx: Vec<usize> = (0..nb).filter(|&i| hist[i] != 0).collect();
    let mut nz_pos: Vec<usize> = Vec::new();
    let (mut best, mut best_div) = ((edges[0], edges[nb]), f32::INFINITY);
    let mut first = true;
    for i in nq / 2..=zero {
        let start = zero - i;
        let end = (zero + i + 1).min(nb);
        let len = end - start;
        let (left, right) = (prefix[start], prefix[nb] - prefix[end]);
        // The reference distribution p: the slice with the outliers folded into its ends.
        let p = |j: usize| -> i64 {
            let mut v = hist[start + j];
            if j == 0 {
                v += left;
            }
            if j == len - 1 {
                v += right;
            }
            v
        };
        let ends: &[usize] = if len == 1 { &[0] } else { &[0, len - 1] };
        // Non-zero bins of p in [a, b): the slice's, corrected at p's two ends.
        let p_nonzero = |a: usize, b: usize| -> usize {
            let mut n = nz_prefix[start + b] - nz_prefix[start + a];
            for &j in ends {
                if a <= j && j < b {
                    n = n + (p(j) != 0) as usize - (hist[start + j] != 0) as usize;
                }
            }
            n
        };
        // The candidate q: the slice merged into nq bins, each spread over its bins
        // (divided by the count of p's non-zero ones there), the quotient truncated to
        // an integer as ORT's int64 array stores it.
        let merged = len / nq;
        for (k, v) in qv.iter_mut().enumerate() {
            let (s, e) = (k * merged, k * merged + merged);
            let mut bin = prefix[start + e] - prefix[start + s];
            if k == nq - 1 {
                bin += prefix[end] - prefix[start + nq * merged];
            }
            let norm = p_nonzero(s, e);
            *v = if norm != 0 {
                (bin as f64 / norm as f64) as i64
            } else {
                0
            };
        }
        // p's non-zero positions, in order: the slice's non-zero bins and p's two ends.
        nz_pos.clear();
        let lo_i = nz_idx.partition_point(|&h| h < start);
        let hi_i = nz_idx.partition_point(|&h| h < end);
        if hist[start] == 0 && p(0) != 0 {
            nz_pos.push(0);
        }
        nz_pos.extend(nz_idx[lo_i..hi_i].iter().map(|&h| h - start));
        if len > 1 && hist[end - 1] == 0 && p(len - 1) != 0 {
            nz_pos.push(len - 1);
        }
        let tail = len - nq * merged;
        let q_zeros = tail
            + if merged == 0 {
                0
            } else {
                qv.iter().filter(|&&v| v == 0).count() * merged
            };
        let p_zeros = len - nz_pos.len();
        let div = match (smoothing(p_zeros, len), smoothing(q_zeros, len)) {
            (Some((pz, pn)), Some((qz, qn))) => {
                // Sums over every position, done region by region (q is constant on each
                // merged bin and zero on the tail) plus a correction at each non-zero p,
                // so one candidate costs O(bins + non-zeros), not O(len).
                let smooth = |v: i64, z: f32, n: f32| v as f32 + if v == 0 { z } else { n };
                let qs = |k: usize| -> f64 {
                    if k < nq {
                        smooth(qv[k], qz, qn) as f64
                    } else {
                        qz as f64
                    }
                };
                let region = |j: usize| j.checked_div(merged).map_or(nq, |k| k.min(nq));
                let mut sp = len as f64 * pz as f64;
                for &j in nz_pos.iter() {
                    sp += smooth(p(j), pz, pn) as f64 - pz as f64;
                }
                let mut sq = tail as f64 * qz as f64;
                if merged > 0 {
                    sq += (0..nq).map(qs).sum::<f64>() * merged as f64;
                }
                let a0 = pz as f64 / sp;
                let term = |a: f64, k: usize| a * (a / (qs(k) / sq)).ln();
                let mut kl = tail as f64 * term(a0, nq);
                if merged > 0 {
                    kl += (0..nq).map(|k| term(a0, k)).sum::<f64>() * merged as f64;
                }
                for &j in nz_pos.iter() {
                    let k = if j >= nq * merged { nq } else { region(j) };
                    let a = smooth(p(j), pz, pn) as f64 / sp;
                    kl += term(a, k) - term(a0, k);
                }
                // Rounded to f32 as ORT stores it, so near-ties resolve to the first
                // candidate as its argmin does.
                kl as f32
            }
            _ => f32::INFINITY,
        };
        if first || div < best_div {
            best_div = div;
            best = (edges[start], edges[end]);
            first = false;
        }
    }
    let (mut lo, mut hi) = best;
    if lo < min {
        lo = min;
    }
    if hi > max {
        hi = max;
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(
            RangeMethod::parse("pct99.9").unwrap().unwrap(),
            RangeMethod::Percentile { percentile: 99.9 }
        );
        assert!(RangeMethod::parse("pct101").unwrap().is_err());
        assert!(RangeMethod::parse("pctx").unwrap().is_err());
        assert!(RangeMethod::parse("ch0").is_none());
        assert_eq!(mse_ratios().count(), 81);
    }

    #[test]
    fn percentile_cuts_an_outlier() {
        let mut x: Vec<f32> = (0..10_000)
            .map(|i| (i % 200) as f32 / 100.0 - 1.0)
            .collect();
        x[17] = 50.0;
        let (lo, hi) = percentile(&x, 99.9, true);
        assert!(hi < 2.0 && lo > -2.0, "{lo} {hi}");
        // ORT returns the left edge of the bin where the cdf reaches the percentile.
        let hi100 = percentile(&x, 100.0, false).1;
        assert!(hi100 > 49.9 && hi100 < 50.0, "{hi100}");
        assert_eq!(percentile(&[], 99.0, true), (0.0, 0.0));
        assert_eq!(percentile(&[3.0; 5], 99.0, true), (3.0, 3.0));
    }

    #[test]
    fn entropy_stays_inside_the_data() {
        let x: Vec<f32> = (0..5000)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let (lo, hi) = entropy(&x);
        assert!(lo >= -1.0 && hi <= 1.0 && lo < hi, "{lo} {hi}");
        assert_eq!(entropy(&[0.0; 4]), (0.0, 0.0));
    }
}
