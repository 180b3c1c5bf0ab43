//! Memory budgets known before any work starts: an [`Estimate`] of what one operation
//! on one tensor will allocate, from its shape, its dtype and the scheme alone, and a
//! [`Budget`] the caller passes, which refuses the operation before anything is read
//! or allocated when the estimate exceeds it.
//!
//! Every caller that runs per-tensor work takes a `Budget`: the CLI (a default tied to
//! the memory the machine has available, `--max-memory` to change it), the page (what
//! wasm32 can hold, with headroom: [`Budget::wasm32`]), the writers, and the
//! whole-model runs and training as they land (`src/graph/`, `src/train/`): they call
//! [`estimate`] (or build an [`Estimate`] from their own parts with
//! [`Estimate::custom`]) and then [`Budget::check`].
//!
//! The figures are upper bounds read off the code of each scheme family (what each
//! allocates per value, per parameter slot, and once), held to measured peaks by
//! `tests/budget_alloc.rs`, which runs every family under a counting allocator and
//! checks `actual <= estimate <= 4 x actual + 256 KiB` (see docs/BUDGET.md).

use std::fmt;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::formats::TensorStore;
use crate::quant::{Granularity, LinearScheme, Scheme, VqMethod};
use crate::tensor::TensorInfo;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// wasm32's whole address space: 65 536 pages of 64 KiB (the most `memory.grow` can
/// reach; Chromium allows all of it to a module since V8 8.3).
pub const WASM32_ADDRESS_SPACE: u64 = 4 * GIB;

/// The page's budget per operation: half of wasm32's 4 GiB. The other half is headroom
/// for what no estimate counts: the allocator cannot always reuse a freed block for a
/// larger request (dlmalloc, the Rust default on wasm32, grows the memory instead), so
/// a peak of B live bytes can need up to about 2 B of address space when buffers of
/// growing sizes are freed and allocated in turn; and the module's own data, stack and
/// the bytes read from the file in the current call live there too.
pub const WASM32_BUDGET: u64 = WASM32_ADDRESS_SPACE / 2;

/// The CLI's budget when the machine's available memory cannot be read (not Linux, or
/// /proc/meminfo unreadable): a figure most machines that run model tools have free.
pub const FALLBACK_BUDGET: u64 = 4 * GIB;

/// An upper limit on the bytes one operation may allocate, and where it comes from
/// (for the refusal message: "--max-memory", "available memory", "the page").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Budget {
    pub bytes: u64,
    pub origin: String,
}

impl Budget {
    pub fn new(bytes: u64, origin: impl Into<String>) -> Budget {
        Budget {
            bytes,
            origin: origin.into(),
        }
    }

    /// No limit (tests, callers that bound memory some other way).
    pub fn unlimited() -> Budget {
        Budget::new(u64::MAX, "no limit")
    }

    /// The page's budget: [`WASM32_BUDGET`] less `held` bytes the module already keeps
    /// (a model decoded when it was opened).
    pub fn wasm32(held: u64) -> Budget {
        Budget::new(
            WASM32_BUDGET.saturating_sub(held),
            if held > 0 {
                format!(
                    "the page's budget: half of wasm32's 4 GiB, less {} the open model holds",
                    Bytes(held)
                )
            } else {
                "the page's budget: half of wasm32's 4 GiB".to_string()
            },
        )
    }

    /// The native default: three quarters of the memory the system says is available
    /// (Linux: `MemAvailable` in /proc/meminfo), leaving a quarter for the rest of the
    /// machine and for what the estimate does not count; [`FALLBACK_BUDGET`] where that
    /// cannot be read.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_available_memory() -> Budget {
        match available_memory() {
            Some(avail) => Budget::new(
                avail / 4 * 3,
                format!(
                    "the default: 3/4 of the {} this machine has available (change it with --max-memory)",
                    Bytes(avail)
                ),
            ),
            None => Budget::new(
                FALLBACK_BUDGET,
                "the default where available memory cannot be read: 4 GiB (change it with --max-memory)",
            ),
        }
    }

    /// Refuses `est` when its peak exceeds this budget, naming the tensor, the scheme,
    /// the figure and its largest parts.
    pub fn check(&self, est: &Estimate) -> Result<()> {
        if est.peak() <= self.bytes {
            return Ok(());
        }
        Err(Error::OverBudget(Box::new(crate::error::OverBudget {
            tensor: est.tensor.clone(),
            scheme: est.scheme.clone(),
            operation: est.operation.to_string(),
            needed: Bytes(est.peak()).to_string(),
            parts: est.describe_parts(),
            budget: Bytes(self.bytes).to_string(),
            origin: self.origin.clone(),
            hint: est
                .hint
                .as_ref()
                .map(|h| format!("; {h}"))
                .unwrap_or_default(),
        })))
    }
}

/// Bytes in binary units for people: `1.00 GiB`, `268.0 MiB`, `512 B`.
#[derive(Clone, Copy, Debug)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b >= GIB {
            write!(f, "{:.2} GiB", b as f64 / GIB as f64)
        } else if b >= MIB {
            write!(f, "{:.1} MiB", b as f64 / MIB as f64)
        } else if b >= KIB {
            write!(f, "{:.1} KiB", b as f64 / KIB as f64)
        } else {
            write!(f, "{b} B")
        }
    }
}

/// Parses a memory size as `--max-memory` takes it: a number with an optional unit.
/// `K`, `M`, `G`, `T` (and `KiB`, `MiB`, `GiB`, `TiB`) are powers of 1024, as `ulimit`
/// and docker's `-m` read them; `KB`, `MB`, `GB`, `TB` powers of 1000; no unit or `B`
/// is bytes. Case does not matter.
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{s}`: expected a size such as 2G, 512MiB or 1500MB"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => KIB as f64,
        "m" | "mib" => MIB as f64,
        "g" | "gib" => GIB as f64,
        "t" | "tib" => (1u64 << 40) as f64,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        u => {
            return Err(format!(
                "`{s}`: unknown unit `{u}`; use K, M, G, T (powers of 1024) or KB, MB, GB, TB"
            ))
        }
    };
    let bytes = value * mult;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("`{s}` is too large"));
    }
    Ok(bytes as u64)
}

/// `MemAvailable` from /proc/meminfo, in bytes (Linux only; None elsewhere).
#[cfg(not(target_arch = "wasm32"))]
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text)
}

/// The `MemAvailable:` line of a /proc/meminfo text, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line
        .trim_start_matches("MemAvailable:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// What an estimate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Metrics only: the whole-model table's row, `quantscope quantize` / `compare`.
    Summary,
    /// The full per-tensor report with histograms of `bins` bins (the page's panel).
    Analysis { bins: usize },
    /// The layer report: `batch` probe rows through the weight in f32 and int8.
    Layer { batch: usize },
    /// Writing the tensor quantized: the encoding, its summary and the stored bytes.
    Export,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Summary => "summary",
            Operation::Analysis { .. } => "analysis",
            Operation::Layer { .. } => "layer report",
            Operation::Export => "export",
        })
    }
}

/// What one operation on one tensor allocates, part by part. Two phases never overlap:
/// reading the tensor (its bytes from the file, decoded to f32 values) and the work on
/// the values (codes, parameters, scratch, reconstruction, report); the peak is the
/// larger of the two.
#[derive(Clone, Debug, Serialize)]
pub struct Estimate {
    pub tensor: String,
    pub scheme: String,
    #[serde(skip)]
    pub operation: Operation,
    /// Bytes held while the tensor is read: the file's bytes of it and the decoded values.
    pub read: Vec<(&'static str, u64)>,
    /// Bytes held while it is worked on, the values included.
    pub work: Vec<(&'static str, u64)>,
    /// What to try instead, when the scheme is what costs (per-element parameters).
    #[serde(skip)]
    pub hint: Option<String>,
}

fn sum(parts: &[(&'static str, u64)]) -> u64 {
    parts.iter().fold(0u64, |a, (_, b)| a.saturating_add(*b))
}

impl Estimate {
    /// An estimate from a caller's own parts (a whole-model run, training): `read` and
    /// `work` as in [`Estimate`].
    pub fn custom(
        tensor: &str,
        scheme: &str,
        operation: Operation,
        read: Vec<(&'static str, u64)>,
        work: Vec<(&'static str, u64)>,
    ) -> Estimate {
        Estimate {
            tensor: tensor.to_string(),
            scheme: scheme.to_string(),
            operation,
            read,
            work,
            hint: None,
        }
    }

    /// The most bytes held at once.
    pub fn peak(&self) -> u64 {
        sum(&self.read).max(sum(&self.work))
    }

    /// The parts of the larger phase, largest first, as "values 1.00 GiB, parameters 28.0 GiB".
    fn describe_parts(&self) -> String {
        let phase = if sum(&self.read) > sum(&self.work) {
            &self.read
        } else {
            &self.work
        };
        let mut parts: Vec<&(&str, u64)> = phase.iter().filter(|(_, b)| *b > 0).collect();
        parts.sort_by_key(|p| std::cmp::Reverse(p.1));
        parts
            .iter()
            .map(|(n, b)| format!("{n} {}", Bytes(*b)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}

/// A per-channel linear scheme on a 1-D tensor would give every element its own scale
/// (and use 5 to 60 bytes of parameters per 1-byte code); quantscope quantizes such a
/// tensor per tensor instead, with a note (see [`LinearScheme::for_shape`]).
fn effective(scheme: &Scheme, shape: &[usize]) -> Scheme {
    match scheme {
        Scheme::Linear(l) => Scheme::Linear(l.for_shape(shape).0),
        s => s.clone(),
    }
}

/// Parameter slots of a linear scheme on `shape` (1 when the layout cannot be made:
/// the quantizer then refuses the axis before allocating anything).
fn linear_slots(l: &LinearScheme, shape: &[usize]) -> u64 {
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let prod = |d: &[u64]| d.iter().fold(1u64, |a, &b| a.saturating_mul(b));
    match l.granularity {
        Granularity::PerTensor => 1,
        Granularity::PerChannel { axis } => dims.get(axis).copied().unwrap_or(1),
        Granularity::PerGroup { size, axis } => {
            let axis = axis.unwrap_or(dims.len().saturating_sub(1));
            match dims.get(axis) {
                Some(&d) => prod(&dims[..axis])
                    .saturating_mul(d.div_ceil(size.max(1) as u64))
                    .saturating_mul(prod(&dims[axis + 1..])),
                None => 1,
            }
        }
    }
}

/// Bytes per parameter slot a linear quantization holds at its peak: the min and max
/// scans (8), the ranges (8), each slot's parameters as its convention computes them
/// (48: scale, zero point, range, inverse scale, TF.js's f64 triple), the kernels'
/// copies (16), the stored parameters (16), TF.js's f64 pair (16), and the report's
/// scales and zero points (8). 120 rounded up.
const LINEAR_SLOT_BYTES: u64 = 128;
/// Per slot when a range estimator other than min-max gathers each slot's values
/// into its own vector (a 24-byte header plus allocator rounding).
const GATHER_SLOT_BYTES: u64 = 48;

/// The work an encoding allocates besides the values: (codes, parameters, scratch).
fn encode_parts(scheme: &Scheme, shape: &[usize], n: u64) -> (u64, u64, u64) {
    match scheme {
        Scheme::Linear(l) => {
            let slots = linear_slots(l, shape);
            let codes = mul(n, l.bits as u64).div_ceil(8);
            let params = mul(slots, LINEAR_SLOT_BYTES);
            // The i8 work buffer the kernels write (n), or i32 codes for the scalar rule
            // (4n); dequantize unpacks narrow codes to i8 again (n). A range estimator
            // other than min-max gathers the values of each slot (4n) and may sort a copy
            // of one slot (percentile: 4n at most).
            let mut scratch = mul(n, 4) + n;
            if l.range != crate::quant::RangeMethod::MinMax {
                scratch = scratch
                    .saturating_add(mul(n, 8))
                    .saturating_add(mul(slots, GATHER_SLOT_BYTES));
            }
            (codes, params, scratch)
        }
        Scheme::FourBit(s) => {
            // Codes one byte each while encoding (n), packed two per byte (n/2), the
            // block maxima (4 per block).
            let blocks = n.div_ceil(s.block.max(1) as u64);
            (n / 2 + 1, mul(blocks, 4), n + 1)
        }
        // One bit pattern per value, u16 for every float format.
        Scheme::Float(_) => (mul(n, 2), 0, 0),
        // One byte per value; a small table of magnitudes.
        Scheme::Log(_) => (n, 0, 4 * KIB),
        Scheme::Vq(v) => {
            let k = v.k as u64;
            match v.method {
                // A sorted copy (4n), then the distinct values and their counts in f64
                // (16 per distinct value, at most n), k-means++'s distances and Lloyd's
                // prefix sums (24 more per distinct value).
                VqMethod::Kmeans => (n, mul(k, 4), mul(n, 4 + 40)),
                // The sorted copy and the distinct values; the DP runs on at most
                // DP_MAX_POINTS binned points (its tables are 4 k u + 32 u bytes).
                VqMethod::KmeansDp => {
                    let u = crate::quant::vq::DP_MAX_POINTS as u64;
                    (n, mul(k, 4), mul(n, 4 + 16) + mul(k, 4 * u) + 64 * u)
                }
                VqMethod::Pq => {
                    let d = v.dim.max(1) as u64;
                    let count = n.div_ceil(d) + d;
                    // Padded sub-vectors (4n), a training sample of at most 256 k
                    // sub-vectors (or a copy of all), an index of them (4 per
                    // sub-vector), distances and assignments (16 per training point).
                    let cap = mul(crate::quant::vq::PQ_POINTS_PER_CENTROID as u64, k).min(count);
                    let scratch = mul(count * d, 4)
                        .saturating_add(mul(cap * d, 4))
                        .saturating_add(mul(count, 4))
                        .saturating_add(mul(cap, 16));
                    (count, mul(k * d, 4 + 16), scratch)
                }
            }
        }
        Scheme::Mixed(_) => {
            // A copy of the values with the outlier columns zeroed (4n), their FP16
            // copies (at most 2n), then per-channel int8 on the copy.
            let rows = if shape.len() >= 2 { shape[0] as u64 } else { 1 };
            let cols = n.checked_div(rows).unwrap_or(0);
            let int8 = Scheme::Linear(LinearScheme::new(
                8,
                true,
                Granularity::PerChannel { axis: 0 },
            ));
            let (c, p, s) = encode_parts(&int8, &[rows as usize, cols as usize], n);
            (
                c.saturating_add(mul(n, 2)),
                p.saturating_add(mul(cols, 8 + 1 + 8)),
                s.saturating_add(mul(n, 4)),
            )
        }
        Scheme::Ggml(g) => {
            // Values that do not fill whole blocks: the quantizer refuses them before
            // allocating, and the writers store such a tensor as F16 (2n) instead.
            let bytes = usize::try_from(n)
                .ok()
                .and_then(|n| g.format.bytes_for(n).ok())
                .map_or(mul(n, 2), |b| b as u64);
            (bytes, 0, 0)
        }
    }
}

/// What `operation` on the tensor `info` under `scheme` allocates. `read_extra` is
/// what reading the tensor holds besides its values ([`TensorStore::read_extra`]: its
/// bytes copied out of the file, a member inflated; 0 when decoded in place).
pub fn estimate(
    info: &TensorInfo,
    scheme: &Scheme,
    operation: Operation,
    read_extra: u64,
) -> Estimate {
    let n = info.numel as u64;
    let values = mul(n, 4);
    let source = read_extra;
    let used = effective(scheme, &info.shape);
    let (codes, params, scratch) = encode_parts(&used, &info.shape, n);
    let mut work = vec![
        ("values", values),
        ("codes", codes),
        ("parameters", params),
        ("scratch", scratch),
        // The reconstruction (dequantized values), then the error in the same buffer.
        ("reconstruction", values),
        // Names, shapes, small tables and the report's fixed fields.
        ("fixed", 64 * KIB),
    ];
    match operation {
        Operation::Summary => {}
        Operation::Analysis { bins } => {
            // Two histograms of `bins` u32 counts, and the grid: up to one level per code
            // (collected, so up to twice that while it grows), at most 2^16 of them.
            let grid = 8u64 << used.bits().min(16);
            work.push((
                "histograms",
                mul(bins as u64, 8)
                    .saturating_add(grid)
                    .saturating_add(64 * KIB),
            ));
        }
        Operation::Layer { batch } => {
            let rows = info.shape.first().copied().unwrap_or(1).max(1) as u64;
            let cols = n / rows;
            let batch = batch.max(1) as u64;
            // i32 codes (4n), i8 codes (n), both packed weight matrices (4n + n, padded
            // to the kernels' tiles), the probe (batch x cols) and three outputs (float,
            // int8, error: batch x rows).
            work.push(("layer weights", mul(n, 10) + 64 * KIB));
            work.push(("probe", mul(mul(batch, cols), 4)));
            work.push(("outputs", mul(mul(batch, rows), 12)));
        }
        Operation::Export => {}
    }
    let hint = match (scheme, &used) {
        (Scheme::Linear(l), Scheme::Linear(u))
            if mul(linear_slots(u, &info.shape), LINEAR_SLOT_BYTES) > values =>
        {
            let _ = l;
            Some(
                "its parameters outweigh its values (one scale per few elements): try a per-tensor or per-group scheme"
                    .to_string(),
            )
        }
        _ => None,
    };
    Estimate {
        tensor: info.name.clone(),
        scheme: scheme.to_string(),
        operation,
        read: vec![("read from the file", source), ("values", values)],
        work,
        hint,
    }
}

/// [`estimate`] and [`Budget::check`] in one call: Ok when the operation fits.
pub fn check(
    budget: &Budget,
    info: &TensorInfo,
    scheme: &Scheme,
    operation: Operation,
    read_extra: u64,
) -> Result<()> {
    budget.check(&estimate(info, scheme, operation, read_extra))
}

/// Checks `operation` on tensor `name` of `store` under `scheme` against `budget`
/// before the tensor is read: the call every per-tensor entry point makes first.
pub fn check_tensor<S: TensorStore + ?Sized>(
    budget: &Budget,
    store: &S,
    name: &str,
    scheme: &Scheme,
    operation: Operation,
) -> Result<()> {
    let info = store
        .tensor_info(name)
        .ok_or_else(|| Error::NoSuchTensor(name.to_string()))?;
    check(budget, &info, scheme, operation, store.read_extra(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::DType;

    fn info(shape: &[usize]) -> TensorInfo {
        let numel = shape.iter().product();
        TensorInfo {
            name: "w".into(),
            shape: shape.to_vec(),
            dtype: DType::F32,
            numel,
            role: crate::tensor::TensorRole::Weight,
            size_bytes: numel * 4,
        }
    }

    #[test]
    fn sizes_parse_in_both_unit_systems() {
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5gb").unwrap(), 1_500_000_000);
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("2X").unwrap_err().contains("unknown unit"));
        assert!(parse_size("lots").unwrap_err().contains("expected a size"));
    }

    #[test]
    fn meminfo_gives_available_bytes() {
        let text = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   12345678 kB\n";
        assert_eq!(parse_meminfo(text), Some(12_345_678 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 5 kB\n"), None);
    }

    #[test]
    fn refusal_names_tensor_scheme_and_figures() {
        let s: Scheme = "int8-sym-ch1".parse().unwrap();
        let e = estimate(&info(&[1, 1 << 26]), &s, Operation::Summary, 0);
        let err = Budget::new(GIB, "a test budget").check(&e).unwrap_err();
        let msg = err.to_string();
        for needle in [
            "`w`",
            "int8-sym-ch1",
            "GiB",
            "parameters",
            "a test budget",
            "per-group",
        ] {
            assert!(msg.contains(needle), "{needle} missing: {msg}");
        }
        assert!(Budget::unlimited().check(&e).is_ok());
    }

    #[test]
    fn per_channel_on_a_vector_is_estimated_per_tensor() {
        let ch: Scheme = "int8-sym-ch0".parse().unwrap();
        let t: Scheme = "int8-sym".parse().unwrap();
        let i = info(&[1 << 20]);
        assert_eq!(
            estimate(&i, &ch, Operation::Summary, 0).peak(),
            estimate(&i, &t, Operation::Summary, 0).peak()
        );
    }
}
