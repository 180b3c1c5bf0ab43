//! Weight clustering: scalar k-means (k-means++ and Lloyd, seeded), the optimal 1-D
//! k-means by dynamic programming, and product quantization of d-value sub-vectors.
//!
//! Shared conventions:
//! - centroids are stored as f32 (the packed size counts 4 bytes per centroid value:
//!   exact, and small beside the codes: 256 centroids are 1 KiB);
//! - codes are ceil(log2 k) bits each; a value (or sub-vector) goes to its nearest
//!   centroid, a tie to the lower index (scalar: the smaller centroid);
//! - randomness is a ChaCha8 stream seeded by `-s<seed>` (0 by default), the same on
//!   every platform, so a scheme string always gives the same codes, natively and in
//!   wasm (all arithmetic is plain IEEE f32/f64, no fused operations).
//!
//! Scalar k-means runs on the sorted distinct values with their counts: in 1-D a
//! cluster is a run of the sorted values between two centroid midpoints, so a Lloyd
//! step is k binary searches and k means from prefix sums, O(k log u) for u distinct
//! values, after an O(n log n) sort. k-means++ seeding is O(k u).
//!
//! The nearest-centroid search of product quantization (n/d sub-vectors x k centroids x
//! d) is the hot loop worth SIMD128 later; it is scalar for now.

use std::fmt;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::encoded::{check_finite, Encoded, Grid};
use crate::error::Result;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VqMethod {
    /// k-means++ then Lloyd iterations on the values.
    Kmeans,
    /// Optimal 1-D k-means by dynamic programming.
    KmeansDp,
    /// k-means on d-value sub-vectors along the last axis, one codebook for the tensor.
    Pq,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VqScheme {
    pub method: VqMethod,
    /// Centroids, 2..=256.
    pub k: u32,
    /// Values per sub-vector: 1 for scalar methods, 2, 4 or 8 for PQ.
    pub dim: u8,
    pub seed: u64,
    /// Most Lloyd iterations (they stop early when no assignment changes).
    pub iters: u32,
}

/// Lloyd iterations when `-it` is not given. Scalar steps cost O(k log u), so they are
/// cheap; PQ uses FAISS's default of 25.
pub const DEFAULT_ITERS: u32 = 100;
pub const PQ_ITERS: u32 = 25;
/// PQ trains on at most this many sub-vectors per centroid (FAISS's
/// max_points_per_centroid), drawn with the seeded generator.
pub const PQ_POINTS_PER_CENTROID: usize = 256;
/// kmeansdp runs the exact DP on at most this many distinct values; beyond it, on a
/// histogram of this many equal-width bins (each bin a point at its members' mean,
/// weighted by their count). Time O(k u log u), memory 4 k u bytes for backtracking:
/// k = 256 over 16384 points is 16 MiB and about 60 million interval costs.
pub const DP_MAX_POINTS: usize = 16384;

impl fmt::Display for VqScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.method {
            VqMethod::Kmeans => {
                write!(f, "kmeans{}", self.k)?;
                if self.seed != 0 {
                    write!(f, "-s{}", self.seed)?;
                }
                if self.iters != DEFAULT_ITERS {
                    write!(f, "-it{}", self.iters)?;
                }
                Ok(())
            }
            VqMethod::KmeansDp => write!(f, "kmeansdp{}", self.k),
            VqMethod::Pq => {
                write!(f, "pq{}x{}", self.k, self.dim)?;
                if self.seed != 0 {
                    write!(f, "-s{}", self.seed)?;
                }
                Ok(())
            }
        }
    }
}

fn parse_k(s: &str) -> std::result::Result<u32, String> {
    let k: u32 = s
        .parse()
        .map_err(|_| format!("`{s}`: the number of centroids must be a number, e.g. kmeans16"))?;
    if !(2..=256).contains(&k) {
        return Err(format!("{k} centroids: between 2 and 256"));
    }
    Ok(k)
}

/// Parses `kmeans<k>[-s<seed>][-it<n>]`, `kmeansdp<k>`, `pq<k>x<d>[-s<seed>]`; None when
/// the string is not of this family.
pub fn parse(s: &str) -> Option<std::result::Result<VqScheme, String>> {
    let (method, rest) = if let Some(r) = s.strip_prefix("kmeansdp") {
        (VqMethod::KmeansDp, r)
    } else if let Some(r) = s.strip_prefix("kmeans") {
        (VqMethod::Kmeans, r)
    } else if let Some(r) = s.strip_prefix("pq") {
        (VqMethod::Pq, r)
    } else {
        return None;
    };
    Some((|| {
        let mut parts = rest.split('-');
        let head = parts.next().unwrap_or_default();
        let (k, dim) = if method == VqMethod::Pq {
            let (k, d) = head
                .split_once('x')
                .ok_or_else(|| format!("`pq{head}`: expected pq<k>x<d>, e.g. pq256x4"))?;
            let dim: u8 = d
                .parse()
                .map_err(|_| format!("`{d}`: sub-vector length must be 2, 4 or 8"))?;
            if ![2, 4, 8].contains(&dim) {
                return Err(format!("sub-vector length {dim}: must be 2, 4 or 8"));
            }
            (parse_k(k)?, dim)
        } else {
            (parse_k(head)?, 1)
        };
        let mut scheme = VqScheme {
            method,
            k,
            dim,
            seed: 0,
            iters: if method == VqMethod::Pq {
                PQ_ITERS
            } else {
                DEFAULT_ITERS
            },
        };
        for p in parts {
            if let (Some(v), true) = (p.strip_prefix('s'), method != VqMethod::KmeansDp) {
                scheme.seed = v
                    .parse()
                    .map_err(|_| format!("`{p}`: expected s<seed>, e.g. s7"))?;
            } else if let (Some(v), VqMethod::Kmeans) = (p.strip_prefix("it"), method) {
                scheme.iters = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| format!("`{p}`: expected it<n> with n from 1 to 1000"))?;
            } else {
                return Err(format!("unexpected `{p}`"));
            }
        }
        Ok(scheme)
    })())
}

/// Bits per code for k centroids.
pub fn code_bits(k: u32) -> u8 {
    (32 - (k - 1).leading_zeros()).max(1) as u8
}

/// Uniform in [0, 1) from 53 random bits.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Sorted distinct values and how often each occurs.
fn distinct(data: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let mut v = data.to_vec();
    v.sort_unstable_by(f32::total_cmp);
    // Exact capacity: doubling growth would hold up to twice the u distinct values.
    let u = 1 + v.windows(2).filter(|p| p[0] != p[1]).count();
    let (mut vals, mut counts) = (Vec::with_capacity(u), Vec::with_capacity(u));
    for x in v {
        // -0.0 and 0.0 are one value.
        if vals.last() == Some(&(x as f64)) {
            *counts.last_mut().expect("pushed with vals") += 1.0;
        } else {
            vals.push(x as f64);
            counts.push(1.0);
        }
    }
    (vals, counts)
}

/// k-means++ (Arthur and Vassilvitskii 2007) on weighted 1-D points: the first centre
/// drawn by weight, each next by weight * squared distance to the nearest centre.
/// Stops early when every point already sits on a centre. Returns sorted centres.
fn kmeanspp_1d(vals: &[f64], w: &[f64], k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    // Draws an index with probability mass(i) / total (mass computed on the fly, so no
    // second u-sized buffer).
    let pick = |mass: &dyn Fn(usize) -> f64, total: f64, rng: &mut ChaCha8Rng| -> usize {
        let r = unit(rng) * total;
        let mut acc = 0.0;
        for i in 0..vals.len() {
            acc += mass(i);
            if r < acc {
                return i;
            }
        }
        // Rounding left r at the very top: the last point with mass.
        (0..vals.len()).rev().find(|&i| mass(i) > 0.0).unwrap_or(0)
    };
    let total_w: f64 = w.iter().sum();
    let first = vals[pick(&|i| w[i], total_w, rng)];
    let mut centres = vec![first];
    let mut d2: Vec<f64> = vals.iter().map(|v| (v - first) * (v - first)).collect();
    while centres.len() < k {
        let total: f64 = d2.iter().zip(w).map(|(d, w)| d * w).sum();
        if total <= 0.0 {
            break;
        }
        let c = vals[pick(&|i| d2[i] * w[i], total, rng)];
        centres.push(c);
        for (d, v) in d2.iter_mut().zip(vals) {
            *d = d.min((v - c) * (v - c));
        }
    }
    centres.sort_by(f64::total_cmp);
    centres.dedup();
    centres
}

/// Prefix sums of weights and weighted values (f64), length u + 1.
fn prefix(vals: &[f64], w: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mut p0, mut p1) = (vec![0.0; vals.len() + 1], vec![0.0; vals.len() + 1]);
    for i in 0..vals.len() {
        p0[i + 1] = p0[i] + w[i];
        p1[i + 1] = p1[i] + w[i] * vals[i];
    }
    (p0, p1)
}

/// Lloyd iterations on sorted weighted points with sorted centres: each step cuts the
/// points at the centre midpoints (a point on a midpoint goes to the lower centre) and
/// moves each centre to its run's mean; an empty run keeps its centre. Stops when no
/// cut moves.
fn lloyd_1d(vals: &[f64], w: &[f64], centres: &mut [f64], iters: u32) {
    let (p0, p1) = prefix(vals, w);
    let k = centres.len();
    let mut cuts = vec![usize::MAX; k + 1];
    for _ in 0..iters {
        let mut new_cuts = vec![0usize; k + 1];
        new_cuts[k] = vals.len();
        for j in 0..k.saturating_sub(1) {
            let mid = (centres[j] + centres[j + 1]) / 2.0;
            new_cuts[j + 1] = vals.partition_point(|&v| v <= mid);
        }
        if new_cuts == cuts {
            break;
        }
        cuts = new_cuts;
        for j in 0..k {
            let (a, b) = (cuts[j], cuts[j + 1]);
            let n = p0[b] - p0[a];
            if b > a && n > 0.0 {
                centres[j] = (p1[b] - p1[a]) / n;
            }
        }
    }
}

/// Optimal 1-D k-means (the least total squared error over all partitions into at most
/// k clusters; Wang and Song 2011's DP) on sorted weighted points. Since an optimal
/// cluster is a run of sorted points and the best start of the last run never moves
/// left as the prefix grows, each DP layer is filled by divide and conquer:
/// O(k u log u) interval costs, each O(1) from prefix sums. Returns the sorted means.
fn kmeans_dp_1d(vals: &[f64], w: &[f64], k: usize) -> Vec<f64> {
    let u = vals.len();
    let k = k.min(u);
    if k == 0 {
        return Vec::new();
    }
    // Centre the data: interval costs are differences of prefix sums of squares, which
    // lose digits when the mean is far from zero.
    let total: f64 = w.iter().sum();
    let mean = vals.iter().zip(w).map(|(v, w)| v * w).sum::<f64>() / total;
    let (mut p0, mut p1, mut p2) = (vec![0.0; u + 1], vec![0.0; u + 1], vec![0.0; u + 1]);
    for i in 0..u {
        let v = vals[i] - mean;
        p0[i + 1] = p0[i] + w[i];
        p1[i + 1] = p1[i] + w[i] * v;
        p2[i + 1] = p2[i] + w[i] * v * v;
    }
    // Squared error of points i..j around their mean.
    let sse = |i: usize, j: usize| -> f64 {
        let n = p0[j] - p0[i];
        let s = p1[j] - p1[i];
        (p2[j] - p2[i] - s * s / n).max(0.0)
    };
    let mut prev: Vec<f64> = (0..=u)
        .map(|j| if j == 0 { 0.0 } else { sse(0, j) })
        .collect();
    // arg[c][j]: where the last of c + 1 runs covering points 0..j starts.
    let mut arg = vec![vec![0u32; u + 1]; k];
    let mut cur = vec![f64::INFINITY; u + 1];
    struct Layer<'a, F: Fn(usize, usize) -> f64> {
        prev: &'a [f64],
        cur: &'a mut [f64],
        arg: &'a mut [u32],
        sse: &'a F,
    }
    fn fill<F: Fn(usize, usize) -> f64>(
        l: &mut Layer<F>,
        lo: usize,
        hi: usize,
        opt_lo: usize,
        opt_hi: usize,
    ) {
        if lo > hi {
            return;
        }
        let mid = (lo + hi) / 2;
        let (mut best, mut at) = (f64::INFINITY, opt_lo);
        for i in opt_lo..=opt_hi.min(mid - 1) {
            let c = l.prev[i] + (l.sse)(i, mid);
            if c < best {
                best = c;
                at = i;
            }
        }
        l.cur[mid] = best;
        l.arg[mid] = at as u32;
        if mid > lo {
            fill(l, lo, mid - 1, opt_lo, at);
        }
        fill(l, mid + 1, hi, at, opt_hi);
    }
    for (c, arg_c) in arg.iter_mut().enumerate().skip(1) {
        // c + 1 runs need at least c + 1 points; run c starts at index >= c.
        cur.iter_mut().for_each(|v| *v = f64::INFINITY);
        let mut layer = Layer {
            prev: &prev,
            cur: &mut cur,
            arg: arg_c,
            sse: &sse,
        };
        fill(&mut layer, c + 1, u, c, u - 1);
        std::mem::swap(&mut prev, &mut cur);
    }
    // Walk back from the full prefix.
    let mut means = Vec::with_capacity(k);
    let mut j = u;
    for c in (0..k).rev() {
        let i = if c == 0 { 0 } else { arg[c][j] as usize };
        let n = p0[j] - p0[i];
        means.push((p1[j] - p1[i]) / n + mean);
        j = i;
    }
    means.reverse();
    means
}

/// At most `DP_MAX_POINTS` weighted points standing for sorted weighted `vals`: the
/// values themselves when few enough, else the mean and count of each equal-width bin.
fn bin_points(vals: Vec<f64>, w: Vec<f64>) -> (Vec<f64>, Vec<f64>) {
    if vals.len() <= DP_MAX_POINTS {
        return (vals, w);
    }
    let (lo, hi) = (vals[0], vals[vals.len() - 1]);
    let width = (hi - lo) / DP_MAX_POINTS as f64;
    let mut sum = vec![0.0; DP_MAX_POINTS];
    let mut cnt = vec![0.0; DP_MAX_POINTS];
    for (v, c) in vals.iter().zip(&w) {
        let b = (((v - lo) / width) as usize).min(DP_MAX_POINTS - 1);
        sum[b] += v * c;
        cnt[b] += c;
    }
    sum.iter()
        .zip(&cnt)
        .filter(|(_, &c)| c > 0.0)
        .map(|(s, &c)| (s / c, c))
        .unzip()
}

/// Index of the centroid nearest `x` in ascending `c`, a tie to the lower.
#[inline]
fn nearest_sorted(c: &[f32], x: f32) -> usize {
    let p = c.partition_point(|&v| v < x);
    if p == 0 {
        return 0;
    }
    if p == c.len() {
        return p - 1;
    }
    let (lo, hi, x) = (c[p - 1] as f64, c[p] as f64, x as f64);
    if x - lo <= hi - x {
        p - 1
    } else {
        p
    }
}

fn dist2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Index of the nearest of `k` centroids (rows of `book`, `d` wide), a tie to the lower.
fn nearest_vec(book: &[f32], d: usize, v: &[f32]) -> usize {
    let mut best = (f32::INFINITY, 0);
    for (j, c) in book.chunks_exact(d).enumerate() {
        let e = dist2(c, v);
        if e < best.0 {
            best = (e, j);
        }
    }
    best.1
}

/// k-means++ then Lloyd on d-dimensional points (rows of `pts`). Returns the codebook.
fn kmeans_nd(pts: &[f32], d: usize, k: usize, iters: u32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let n = pts.len() / d;
    let row = |i: usize| &pts[i * d..(i + 1) * d];
    // k-means++ seeding.
    let first = (unit(rng) * n as f64) as usize;
    let mut book: Vec<f32> = row(first.min(n - 1)).to_vec();
    let mut d2: Vec<f64> = (0..n).map(|i| dist2(row(i), &book) as f64).collect();
    while book.len() / d < k {
        let total: f64 = d2.iter().sum();
        if total <= 0.0 {
            break;
        }
        let r = unit(rng) * total;
        let mut acc = 0.0;
        let mut pick = d2.iter().rposition(|&m| m > 0.0).unwrap_or(0);
        for (i, &m) in d2.iter().enumerate() {
            acc += m;
            if r < acc {
                pick = i;
                break;
            }
        }
        let c = row(pick).to_vec();
        for (i, e) in d2.iter_mut().enumerate() {
            *e = e.min(dist2(row(i), &c) as f64);
        }
        book.extend_from_slice(&c);
    }
    lloyd_nd(pts, d, &mut book, iters);
    book
}

/// Lloyd iterations on d-value points from the centroids in `book`: each point goes to
/// its nearest centroid (the first of equals), each centroid to its points' mean (an
/// empty one stays); stops when no assignment changes.
fn lloyd_nd(pts: &[f32], d: usize, book: &mut [f32], iters: u32) {
    let n = pts.len() / d;
    let row = |i: usize| &pts[i * d..(i + 1) * d];
    let k = book.len() / d;
    let mut assign = vec![usize::MAX; n];
    for _ in 0..iters {
        let mut changed = false;
        for (i, a) in assign.iter_mut().enumerate() {
            let j = nearest_vec(book, d, row(i));
            changed |= *a != j;
            *a = j;
        }
        if !changed {
            break;
        }
        let mut sum = vec![0f64; k * d];
        let mut cnt = vec![0usize; k];
        for (i, &a) in assign.iter().enumerate() {
            cnt[a] += 1;
            for (s, &x) in sum[a * d..(a + 1) * d].iter_mut().zip(row(i)) {
                *s += x as f64;
            }
        }
        for j in 0..k {
            if cnt[j] > 0 {
                for t in 0..d {
                    book[j * d + t] = (sum[j * d + t] / cnt[j] as f64) as f32;
                }
            }
        }
    }
}

/// The scalar k-means of the `kmeans<k>` schemes run from given initial centroids
/// instead of k-means++ (for holding the Lloyd steps to scikit-learn's `KMeans` with
/// the same `init`, `n_init=1`, `algorithm="lloyd"`, `tol=0`): the centroids after at
/// most `iters` steps, in the order given, and each value's nearest one.
pub fn lloyd_from(data: &[f32], init: &[f32], iters: u32) -> (Vec<f32>, Vec<usize>) {
    let (vals, w) = distinct(data);
    let mut order: Vec<usize> = (0..init.len()).collect();
    order.sort_by(|&a, &b| init[a].total_cmp(&init[b]));
    let mut centres: Vec<f64> = order.iter().map(|&i| init[i] as f64).collect();
    if !vals.is_empty() {
        lloyd_1d(&vals, &w, &mut centres, iters);
    }
    let mut out = vec![0f32; init.len()];
    for (sorted, &i) in order.iter().enumerate() {
        out[i] = centres[sorted] as f32;
    }
    let labels = data
        .iter()
        .map(|&x| {
            (0..out.len())
                .min_by(|&a, &b| (x - out[a]).abs().total_cmp(&(x - out[b]).abs()))
                .unwrap_or(0)
        })
        .collect();
    (out, labels)
}

/// The product quantizer's k-means on `d`-value points from given initial centroids
/// (`init`, k x d), as [`lloyd_from`] for the scalar one.
pub fn lloyd_vectors_from(
    pts: &[f32],
    d: usize,
    init: &[f32],
    iters: u32,
) -> (Vec<f32>, Vec<usize>) {
    let mut book = init.to_vec();
    lloyd_nd(pts, d, &mut book, iters);
    let labels = (0..pts.len() / d)
        .map(|i| nearest_vec(&book, d, &pts[i * d..(i + 1) * d]))
        .collect();
    (book, labels)
}

impl VqScheme {
    pub fn quantize(&self, t: &Tensor) -> Result<VqEncoded> {
        check_finite(t)?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let k = self.k as usize;
        let n = t.numel();
        if self.method == VqMethod::Pq {
            return Ok(self.quantize_pq(t, &mut rng));
        }
        let (codebook, codes) = if n == 0 {
            (Vec::new(), Vec::new())
        } else {
            let (vals, w) = distinct(&t.data);
            let centres = match self.method {
                VqMethod::Kmeans => {
                    let mut c = kmeanspp_1d(&vals, &w, k, &mut rng);
                    lloyd_1d(&vals, &w, &mut c, self.iters);
                    c
                }
                _ => {
                    let (v, w) = bin_points(vals, w);
                    kmeans_dp_1d(&v, &w, k)
                }
            };
            let mut book: Vec<f32> = centres.iter().map(|&c| c as f32).collect();
            book.sort_by(f32::total_cmp);
            book.dedup();
            let codes = t
                .data
                .iter()
                .map(|&x| nearest_sorted(&book, x) as u8)
                .collect();
            (book, codes)
        };
        Ok(VqEncoded {
            scheme: *self,
            len: n,
            row: n.max(1),
            codebook,
            codes,
        })
    }

    fn quantize_pq(&self, t: &Tensor, rng: &mut ChaCha8Rng) -> VqEncoded {
        let d = self.dim as usize;
        let n = t.numel();
        let row = t.shape.last().copied().unwrap_or(1).max(1);
        let rows = n / row;
        let per_row = row.div_ceil(d);
        // Sub-vectors, each row's tail padded with zeros.
        let mut pts = vec![0f32; rows * per_row * d];
        for (r, src) in t.data.chunks(row).enumerate() {
            pts[r * per_row * d..r * per_row * d + row].copy_from_slice(src);
        }
        let count = rows * per_row;
        if count == 0 {
            return VqEncoded {
                scheme: *self,
                len: n,
                row,
                codebook: Vec::new(),
                codes: Vec::new(),
            };
        }
        let k = self.k as usize;
        let cap = PQ_POINTS_PER_CENTROID * k;
        let train: Vec<f32> = if count > cap {
            // A partial Fisher-Yates shuffle draws `cap` distinct sub-vectors.
            let mut idx: Vec<u32> = (0..count as u32).collect();
            for i in 0..cap {
                let j = i + (unit(rng) * (count - i) as f64) as usize;
                idx.swap(i, j.min(count - 1));
            }
            idx[..cap]
                .iter()
                .flat_map(|&i| pts[i as usize * d..(i as usize + 1) * d].iter().copied())
                .collect()
        } else {
            pts.clone()
        };
        let book = kmeans_nd(&train, d, k, self.iters, rng);
        let codes = pts
            .chunks_exact(d)
            .map(|v| nearest_vec(&book, d, v) as u8)
            .collect();
        VqEncoded {
            scheme: *self,
            len: n,
            row,
            codebook: book,
            codes,
        }
    }
}

/// A clustered tensor: one code per value (scalar) or per sub-vector (PQ), and the
/// codebook.
#[derive(Clone, Debug)]
pub struct VqEncoded {
    pub scheme: VqScheme,
    /// Number of values.
    pub len: usize,
    /// Values per row (the last axis) for PQ; sub-vectors do not cross rows.
    pub row: usize,
    /// Centroids, `dim` values each, f32 (scalar: ascending). May hold fewer than k when
    /// the tensor has fewer distinct values.
    pub codebook: Vec<f32>,
    pub codes: Vec<u8>,
}

impl VqEncoded {
    pub fn centroids(&self) -> usize {
        self.codebook.len() / self.scheme.dim as usize
    }
}

impl Encoded for VqEncoded {
    fn dequantize(&self) -> Vec<f32> {
        let d = self.scheme.dim as usize;
        if d == 1 {
            return self
                .codes
                .iter()
                .map(|&c| self.codebook[c as usize])
                .collect();
        }
        let per_row = self.row.div_ceil(d);
        let mut out = Vec::with_capacity(self.len);
        for codes in self.codes.chunks(per_row.max(1)) {
            let mut left = self.row;
            for &c in codes {
                let take = left.min(d);
                out.extend_from_slice(&self.codebook[c as usize * d..c as usize * d + take]);
                left -= take;
            }
        }
        out
    }

    /// Codes at ceil(log2 k) bits plus the f32 codebook.
    fn packed_bytes(&self) -> usize {
        let bits = code_bits(self.scheme.k) as usize;
        (self.codes.len() * bits).div_ceil(8) + 4 * self.codebook.len()
    }

    fn describe(&self) -> String {
        let bits = code_bits(self.scheme.k);
        let what = match self.scheme.method {
            VqMethod::Kmeans => "k-means++ and Lloyd",
            VqMethod::KmeansDp => "optimal 1-D k-means (DP)",
            VqMethod::Pq => "product quantization",
        };
        if self.scheme.dim == 1 {
            format!(
                "{bits}-bit codes into {} f32 centroids ({what})",
                self.centroids()
            )
        } else {
            format!(
                "{bits}-bit code per {}-value sub-vector along the last axis, one codebook of {} f32 centroids ({what})",
                self.scheme.dim,
                self.centroids()
            )
        }
    }

    /// The centroids (PQ: every coordinate of every centroid).
    fn grid(&self) -> Grid {
        let mut levels = self.codebook.clone();
        levels.sort_by(f32::total_cmp);
        levels.dedup();
        Grid {
            channel: None,
            levels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            "kmeans16",
            "kmeans4-s7",
            "kmeans256-s1-it5",
            "kmeansdp16",
            "pq256x4",
            "pq16x2-s3",
        ] {
            assert_eq!(parse(s).unwrap().unwrap().to_string(), s);
        }
        assert_eq!(
            parse("kmeans16-s0").unwrap().unwrap().to_string(),
            "kmeans16"
        );
        assert!(parse("int4").is_none());
        for (s, needle) in [
            ("kmeans1", "between 2 and 256"),
            ("kmeans300", "between 2 and 256"),
            ("pq16x3", "2, 4 or 8"),
            ("pq16", "pq<k>x<d>"),
            ("kmeansdp16-s3", "`s3`"),
            ("kmeans16-it0", "`it0`"),
            ("pq16x2-it3", "`it3`"),
        ] {
            let e = parse(s).unwrap().unwrap_err();
            assert!(e.contains(needle), "{s}: {e}");
        }
    }

    #[test]
    fn code_bits_cover_k() {
        for (k, b) in [(2, 1), (3, 2), (4, 2), (16, 4), (17, 5), (256, 8)] {
            assert_eq!(code_bits(k), b, "{k}");
        }
    }
}
