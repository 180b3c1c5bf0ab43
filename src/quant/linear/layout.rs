//! How a tensor's elements map to the parameter slots of a granularity: runs of
//! elements that share a slot ([`Piece::Single`]) or that run along the slots
//! ([`Piece::Lanes`], scales along the last axis).

use super::spec::Granularity;
use crate::error::{Error, Result};
use crate::kernels;
use crate::tensor::Tensor;

/// One contiguous run of elements and which parameters quantize it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Piece {
    /// Elements `start..start + len` all use slot `slot`.
    Single {
        start: usize,
        len: usize,
        slot: usize,
    },
    /// Element `start + j` uses slot `base + j` (scales running along the last axis).
    Lanes {
        start: usize,
        len: usize,
        base: usize,
    },
}

/// How a tensor's elements map to parameter slots.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    pub(super) outer: usize,
    pub(super) dim: usize,
    pub(super) inner: usize,
    /// Some(block size) for per-group schemes.
    pub(super) block: Option<usize>,
    pub(super) slots: usize,
}

impl Layout {
    pub(super) fn new(t: &Tensor, g: Granularity) -> Result<Layout> {
        let split = |axis: usize| -> Result<(usize, usize, usize)> {
            if axis >= t.shape.len() {
                return Err(Error::BadAxis {
                    name: t.name.clone(),
                    axis,
                    shape: t.shape.clone(),
                });
            }
            Ok((
                t.shape[..axis].iter().product(),
                t.shape[axis],
                t.shape[axis + 1..].iter().product(),
            ))
        };
        Ok(match g {
            Granularity::PerTensor => Layout {
                outer: 1,
                dim: 1,
                inner: t.numel(),
                block: None,
                slots: 1,
            },
            Granularity::PerChannel { axis } => {
                let (outer, dim, inner) = split(axis)?;
                Layout {
                    outer,
                    dim,
                    inner,
                    block: None,
                    slots: dim,
                }
            }
            Granularity::PerGroup { size, axis } => {
                let axis = axis.unwrap_or(t.shape.len().saturating_sub(1));
                let (outer, dim, inner) = split(axis)?;
                Layout {
                    outer,
                    dim,
                    inner,
                    block: Some(size),
                    slots: outer * dim.div_ceil(size) * inner,
                }
            }
        })
    }

    pub(super) fn for_each_piece(&self, mut f: impl FnMut(Piece)) {
        let (outer, dim, inner) = (self.outer, self.dim, self.inner);
        match self.block {
            None if inner == 1 && dim > 1 => {
                for o in 0..outer {
                    f(Piece::Lanes {
                        start: o * dim,
                        len: dim,
                        base: 0,
                    });
                }
            }
            None => {
                for o in 0..outer {
                    for c in 0..dim {
                        f(Piece::Single {
                            start: (o * dim + c) * inner,
                            len: inner,
                            slot: c,
                        });
                    }
                }
            }
            Some(b) => {
                let groups = dim.div_ceil(b);
                for o in 0..outer {
                    if inner == 1 {
                        for g in 0..groups {
                            f(Piece::Single {
                                start: o * dim + g * b,
                                len: b.min(dim - g * b),
                                slot: o * groups + g,
                            });
                        }
                    } else {
                        for d in 0..dim {
                            f(Piece::Lanes {
                                start: (o * dim + d) * inner,
                                len: inner,
                                base: (o * groups + d / b) * inner,
                            });
                        }
                    }
                }
            }
        }
    }

    /// True when every piece is a whole slot, so range and quantization can run piece
    /// by piece while the piece is in cache.
    pub(super) fn pieces_are_slots(&self) -> bool {
        match self.block {
            None => self.outer == 1 && !(self.inner == 1 && self.dim > 1),
            Some(_) => self.inner == 1,
        }
    }

    /// The values of every slot, in element order.
    pub(super) fn gather(&self, x: &[f32]) -> Vec<Vec<f32>> {
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); self.slots];
        self.for_each_piece(|p| match p {
            Piece::Single { start, len, slot } => {
                out[slot].extend_from_slice(&x[start..start + len])
            }
            Piece::Lanes { start, len, base } => {
                for (j, &v) in x[start..start + len].iter().enumerate() {
                    out[base + j].push(v);
                }
            }
        });
        out
    }

    /// min and max of every slot ((0, 0) for a slot without values), and whether every
    /// value was finite (the scan checks as it goes, so no separate pass is needed).
    pub(super) fn min_max(&self, x: &[f32]) -> (Vec<(f32, f32)>, bool) {
        let mut lo = vec![f32::INFINITY; self.slots];
        let mut hi = vec![f32::NEG_INFINITY; self.slots];
        let mut finite = true;
        self.for_each_piece(|p| match p {
            Piece::Single { start, len, slot } => {
                let (l, h, ok) = kernels::min_max(&x[start..start + len]);
                lo[slot] = lo[slot].min(l);
                hi[slot] = hi[slot].max(h);
                finite &= ok;
            }
            Piece::Lanes { start, len, base } => {
                finite &= kernels::min_max_lanes(
                    &x[start..start + len],
                    &mut lo[base..base + len],
                    &mut hi[base..base + len],
                )
            }
        });
        (lo.into_iter().zip(hi).map(empty_is_zero).collect(), finite)
    }
}

pub(super) fn empty_is_zero((lo, hi): (f32, f32)) -> (f32, f32) {
    if lo > hi {
        (0.0, 0.0)
    } else {
        (lo, hi)
    }
}
