//! The linear quantizer: each slot's range (by the scheme's estimator), its parameters
//! (by the scheme's tool convention), and the codes, on the int8 kernels wherever they
//! compute the tool's codes exactly, else by the scalar rule.

use super::codes::{as_i8_mut, as_i8_uninit, shifted, QuantizedLinear};
use super::layout::{empty_is_zero, Layout, Piece};
use super::spec::{Granularity, LinearScheme, Slot};
use crate::error::{Error, Result};
use crate::kernels::{self, LaneParams, QParams};
use crate::quant::convention::{self, Convention};
use crate::quant::encoded::check_finite;
use crate::quant::pack;
use crate::quant::range::{self, RangeMethod};
use crate::quant::rounding::Rounding;
use crate::tensor::Tensor;

impl LinearScheme {
    /// The integer code range.
    pub fn qrange(&self) -> (i32, i32) {
        convention::qrange(self)
    }

    /// Whether the int8 kernels compute this scheme's codes exactly: round half to even
    /// of x / scale (ONNX Runtime, numpy) or of x * inv_scale (PyTorch), at most 8 bits.
    fn on_kernels(&self) -> bool {
        matches!(
            self.convention,
            Convention::Plain | Convention::Ort | Convention::Torch
        ) && self.rounding == Rounding::HalfEven
            && self.bits <= 8
    }

    /// PyTorch quantizes as round(x * inv_scale) with inv_scale = 1 / scale in f32.
    fn kernel_multiplies(&self) -> bool {
        self.convention == Convention::Torch
    }

    /// The kernels' parameters for one slot: codes shifted into i8, and the inverse
    /// scale where the kernel multiplies.
    fn kernel_params(&self, s: &Slot) -> QParams {
        let q = shifted(s.q, self.offset());
        if self.kernel_multiplies() {
            QParams { scale: s.inv, ..q }
        } else {
            q
        }
    }

    /// Scale and zero point for values in [rmin, rmax], as this scheme's tool computes them.
    pub fn params_for_range(&self, rmin: f32, rmax: f32) -> QParams {
        self.slot(rmin, rmax).q
    }

    fn slot(&self, rmin: f32, rmax: f32) -> Slot {
        convention::slot(self, rmin, rmax)
    }

    #[inline]
    fn code(&self, x: f32, s: &Slot, index: usize) -> i32 {
        convention::code(self, x, s, index)
    }

    /// The range [r * lo, r * hi] over the clip ratios of [`range::mse_ratios`] whose
    /// round-to-nearest reconstruction has the smallest squared error.
    fn mse_range(&self, x: &[f32], lo: f32, hi: f32) -> (f32, f32) {
        let mut det = *self;
        det.rounding = Rounding::HalfEven;
        let mut best = (lo, hi);
        let mut best_err = f64::INFINITY;
        for r in range::mse_ratios() {
            let (a, b) = (lo * r, hi * r);
            let s = det.slot(a, b);
            let err: f64 = x
                .iter()
                .map(|&v| {
                    let d = (det.decode(det.code(v, &s, 0), &s) - v) as f64;
                    d * d
                })
                .sum();
            if err < best_err {
                best_err = err;
                best = (a, b);
            }
        }
        best
    }

    /// The clip range of every slot, by this scheme's estimator.
    fn ranges(&self, t: &Tensor, layout: &Layout) -> Vec<(f32, f32)> {
        if self.range == RangeMethod::MinMax {
            return layout.min_max(&t.data).0;
        }
        let estimate = |x: &[f32]| -> (f32, f32) {
            match self.range {
                RangeMethod::MinMax => range::min_max(x),
                RangeMethod::Percentile { percentile } => {
                    range::percentile(x, percentile, self.symmetric)
                }
                RangeMethod::Kl => range::entropy(x),
                RangeMethod::Mse => {
                    let (lo, hi) = range::min_max(x);
                    self.mse_range(x, lo, hi)
                }
            }
        };
        if layout.slots == 1 {
            vec![estimate(&t.data)]
        } else {
            layout.gather(&t.data).iter().map(|v| estimate(v)).collect()
        }
    }

    /// Quantizes `t`; per channel on a 1-D tensor runs per tensor (see [`LinearScheme::for_shape`]).
    pub fn quantize(&self, t: &Tensor) -> Result<QuantizedLinear> {
        convention::validate(self).map_err(|reason| Error::BadScheme {
            spec: self.to_string(),
            reason,
        })?;
        let (used, _) = self.for_shape(&t.shape);
        if used != *self {
            return used.quantize(t);
        }
        let layout = Layout::new(t, self.granularity)?;
        let n = t.numel();
        let x = &t.data;
        let mul = self.kernel_multiplies();
        let (ranges, slots, packed) = if self.on_kernels()
            && self.range == RangeMethod::MinMax
            && layout.pieces_are_slots()
        {
            if mul {
                self.quantize_fused::<true>(t, &layout)?
            } else {
                self.quantize_fused::<false>(t, &layout)?
            }
        } else {
            let ranges = if self.range == RangeMethod::MinMax {
                // The min-max scan reports non-finite values itself.
                let (ranges, finite) = layout.min_max(&t.data);
                if !finite {
                    check_finite(t)?;
                }
                ranges
            } else {
                check_finite(t)?;
                self.ranges(t, &layout)
            };
            let slots: Vec<Slot> = ranges.iter().map(|&(lo, hi)| self.slot(lo, hi)).collect();
            let packed = if self.on_kernels() {
                let kp: Vec<QParams> = slots.iter().map(|s| self.kernel_params(s)).collect();
                let mut work = vec![0u8; n];
                let w = as_i8_mut(&mut work);
                if mul {
                    quantize_pieces::<true>(&layout, x, &kp, w);
                } else {
                    quantize_pieces::<false>(&layout, x, &kp, w);
                }
                self.finish_i8(work)
            } else {
                let mut codes = vec![0i32; n];
                layout.for_each_piece(|p| match p {
                    Piece::Single { start, len, slot } => {
                        for i in start..start + len {
                            codes[i] = self.code(x[i], &slots[slot], i);
                        }
                    }
                    Piece::Lanes { start, len, base } => {
                        for j in 0..len {
                            codes[start + j] = self.code(x[start + j], &slots[base + j], start + j);
                        }
                    }
                });
                pack::pack(&codes, self.bits)
            };
            (ranges, slots, packed)
        };
        let axis = match self.granularity {
            Granularity::PerTensor => None,
            Granularity::PerChannel { axis } => Some(axis),
            Granularity::PerGroup { axis, .. } => {
                Some(axis.unwrap_or(t.shape.len().saturating_sub(1)))
            }
        };
        Ok(QuantizedLinear {
            scheme: *self,
            shape: t.shape.clone(),
            axis,
            block: layout.block,
            numel: n,
            packed,
            params: slots.iter().map(|s| s.q).collect(),
            ranges,
            tfjs: if self.convention == Convention::Tfjs {
                slots.iter().map(|s| (s.tfjs.0, s.tfjs.1)).collect()
            } else {
                Vec::new()
            },
        })
    }

    /// Range scan and quantization piece by piece (each piece one whole slot), so each
    /// piece is read from memory once and re-read from cache; the first non-finite value
    /// stops it. Each piece is quantized in the same kernel call that scans the next one
    /// (`kernels::quantize_i8_then_min_max`), so the scan's reads from memory overlap the
    /// quantize's arithmetic.
    #[allow(clippy::type_complexity)]
    fn quantize_fused<const MUL: bool>(
        &self,
        t: &Tensor,
        layout: &Layout,
    ) -> Result<(Vec<(f32, f32)>, Vec<Slot>, Vec<u8>)> {
        let mut ranges = vec![(0.0, 0.0); layout.slots];
        let mut slots = vec![self.slot(0.0, 0.0); layout.slots];
        // The codes buffer is not zero-filled: every byte is written by the kernel before
        // the length is set (counted below). Zero-filling it cost a 16 MiB memset per
        // 4096 x 4096 tensor (docs/BENCHMARKS.md, "Quantize throughput").
        let n = t.numel();
        let mut work: Vec<u8> = Vec::with_capacity(n);
        let w = as_i8_uninit(&mut work.spare_capacity_mut()[..n]);
        let mut written = 0;
        let mut finite = true;
        // Quantizes the piece `r` (whose scan gave `scanned`) while scanning `next`.
        let mut emit = |r: std::ops::Range<usize>,
                        slot: usize,
                        scanned: (f32, f32, bool),
                        next: &[f32]|
         -> (f32, f32, bool) {
            let (lo, hi, ok) = scanned;
            if !ok {
                finite = false;
                return (0.0, 0.0, true);
            }
            let range = empty_is_zero((lo, hi));
            let s = self.slot(range.0, range.1);
            let len = r.len();
            let next_scan = kernels::quantize_i8_then_min_max::<MUL>(
                &t.data[r.clone()],
                self.kernel_params(&s),
                &mut w[r],
                next,
            );
            written += len;
            ranges[slot] = range;
            slots[slot] = s;
            next_scan
        };
        let mut pending: Option<(std::ops::Range<usize>, usize, (f32, f32, bool))> = None;
        let mut stopped = false;
        layout.for_each_piece(|p| {
            let Piece::Single { start, len, slot } = p else {
                unreachable!("pieces_are_slots admits single pieces only")
            };
            if stopped {
                return;
            }
            let r = start..start + len;
            let scanned = match pending.take() {
                None => kernels::min_max(&t.data[r.clone()]),
                Some((pr, pslot, pscan)) => {
                    stopped = !pscan.2;
                    emit(pr, pslot, pscan, &t.data[r.clone()])
                }
            };
            pending = Some((r, slot, scanned));
        });
        if let Some((pr, pslot, pscan)) = pending.filter(|_| !stopped) {
            emit(pr, pslot, pscan, &[]);
        }
        if !finite {
            check_finite(t)?;
        }
        // Pieces that are slots tile the tensor once each; this guards `set_len`.
        assert!(
            finite && written == n,
            "fused quantize wrote {written} of {n} codes"
        );
        // SAFETY: the pieces wrote all n bytes (just checked) and n <= capacity.
        unsafe { work.set_len(n) };
        Ok((ranges, slots, self.finish_i8(work)))
    }

    /// i8 kernel output to packed bytes: in place at 8 bits, packed below.
    fn finish_i8(&self, mut work: Vec<u8>) -> Vec<u8> {
        let off = self.offset();
        if self.bits == 8 {
            if off == 128 {
                work.iter_mut().for_each(|b| *b ^= 0x80);
            }
            work
        } else {
            pack::pack_i8(as_i8_mut(&mut work), self.bits, off)
        }
    }
}

/// Quantizes every piece of `layout` with the kernels (`kp`: kernel parameters per slot).
fn quantize_pieces<const MUL: bool>(layout: &Layout, x: &[f32], kp: &[QParams], w: &mut [i8]) {
    let mut lanes: Option<LaneParams> = None;
    layout.for_each_piece(|p| match p {
        Piece::Single { start, len, slot } => {
            let r = start..start + len;
            kernels::quantize_i8_by::<MUL>(&x[r.clone()], kp[slot], &mut w[r]);
        }
        Piece::Lanes { start, len, base } => {
            let r = start..start + len;
            let lp = lanes.get_or_insert_with(|| LaneParams::new(kp));
            kernels::quantize_i8_lanes::<MUL>(&x[r.clone()], lp.slice(base, len), &mut w[r]);
        }
    });
}
