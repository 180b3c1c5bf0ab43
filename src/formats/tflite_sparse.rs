//! TFLite sparse tensors (the `sparsity` field of a Tensor): densified the way TFLite's
//! own `FormatConverter::SparseToDense` does (tensorflow/lite/kernels/internal/utils/
//! sparsity_format_converter.cc), element bytes copied as they are so that int8 codes
//! keep their quantization and float16 stays float16 until decoded.
//!
//! The encoding: a tensor of rank n, optionally split into k-dimensional blocks, is
//! walked in `traversal_order` (n + k levels: a permutation of the n original dimensions,
//! then one of the k block dimensions). Each level is DENSE (every index, `dense_size` of
//! them) or SPARSE_CSR (`array_segments[p]..array_segments[p + 1]` of `array_indices`
//! for parent position p). The stored values are the leaves of that walk, in order.
//! `block_map[j]` names the original dimension that block dimension n + j splits.
//!
//! Written here because no crate reads TFLite's sparsity; every index is checked (TFLite
//! trusts them) and the walk costs at most the values and segments the file stores.

use super::generated::tflite::tflite as fb;

/// Deeper than this is no tensor TFLite makes (its kernels stop at 5-D plus blocks).
const MAX_LEVELS: usize = 16;

/// One traversal level's index metadata.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Level {
    Dense(usize),
    Csr {
        segments: Vec<usize>,
        indices: Vec<usize>,
    },
}

/// A tensor's sparsity parameters, read from the file and checked against its rank.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sparsity {
    pub traversal_order: Vec<usize>,
    pub block_map: Vec<usize>,
    pub levels: Vec<Level>,
}

type Res<T> = std::result::Result<T, String>;

fn index_vector(v: Option<fb::SparseIndexVectorRef>, what: &str) -> Res<Vec<usize>> {
    let e = |e: planus::Error| format!("sparsity {what}: {e}");
    let out: Vec<i64> = match v {
        None => return Err(format!("sparsity: a SPARSE_CSR level has no {what}")),
        Some(fb::SparseIndexVectorRef::Int32Vector(v)) => v
            .values()
            .map_err(e)?
            .map(|v| v.iter().map(i64::from).collect())
            .unwrap_or_default(),
        Some(fb::SparseIndexVectorRef::Uint16Vector(v)) => v
            .values()
            .map_err(e)?
            .map(|v| v.iter().map(i64::from).collect())
            .unwrap_or_default(),
        Some(fb::SparseIndexVectorRef::Uint8Vector(v)) => v
            .values()
            .map_err(e)?
            .map(|v| v.iter().map(|&b| i64::from(b)).collect())
            .unwrap_or_default(),
    };
    out.into_iter()
        .map(|i| usize::try_from(i).map_err(|_| format!("sparsity {what}: negative index {i}")))
        .collect()
}

fn positive(v: i32, what: &str) -> Res<usize> {
    usize::try_from(v).map_err(|_| format!("sparsity {what} is negative ({v})"))
}

impl Sparsity {
    /// Reads the parameters of a tensor of `rank` dimensions.
    pub(crate) fn read(s: &fb::SparsityParametersRef, rank: usize) -> Res<Sparsity> {
        let e = |e: planus::Error| format!("sparsity: {e}");
        let traversal_order: Vec<usize> = s
            .traversal_order()
            .map_err(e)?
            .map(|v| {
                v.iter()
                    .map(|d| positive(d, "traversal_order entry"))
                    .collect()
            })
            .transpose()?
            .unwrap_or_default();
        let block_map: Vec<usize> = s
            .block_map()
            .map_err(e)?
            .map(|v| v.iter().map(|d| positive(d, "block_map entry")).collect())
            .transpose()?
            .unwrap_or_default();
        let mut levels = Vec::new();
        for m in s.dim_metadata().map_err(e)?.iter().flat_map(|v| v.iter()) {
            let m = m.map_err(e)?;
            levels.push(match m.format().map_err(e)? {
                fb::DimensionType::Dense => {
                    Level::Dense(positive(m.dense_size().map_err(e)?, "dense_size")?)
                }
                fb::DimensionType::SparseCsr => Level::Csr {
                    segments: index_vector(m.array_segments().map_err(e)?, "array_segments")?,
                    indices: index_vector(m.array_indices().map_err(e)?, "array_indices")?,
                },
            });
        }
        let sp = Sparsity {
            traversal_order,
            block_map,
            levels,
        };
        sp.check(rank)?;
        Ok(sp)
    }

    /// The traversal order, block map and metadata agree with each other and the rank.
    fn check(&self, rank: usize) -> Res<()> {
        let total = rank + self.block_map.len();
        if total > MAX_LEVELS {
            return Err(format!(
                "sparsity has {total} levels; more than {MAX_LEVELS} is no TFLite tensor"
            ));
        }
        if self.traversal_order.len() != total || self.levels.len() != total {
            return Err(format!(
                "sparsity: a rank-{rank} tensor with {} block dimensions needs {total} traversal_order and dim_metadata entries, the file has {} and {}",
                self.block_map.len(),
                self.traversal_order.len(),
                self.levels.len()
            ));
        }
        let is_perm = |s: &[usize], base: usize| {
            let mut seen = vec![false; s.len()];
            s.iter().all(|&d| {
                d >= base && d - base < seen.len() && !std::mem::replace(&mut seen[d - base], true)
            })
        };
        if !is_perm(&self.traversal_order[..rank], 0)
            || !is_perm(&self.traversal_order[rank..], rank)
        {
            return Err(format!(
                "sparsity traversal_order {:?} is not a permutation of the {rank} dimensions followed by one of the {} block dimensions",
                self.traversal_order,
                self.block_map.len()
            ));
        }
        if let Some(&d) = self.block_map.iter().find(|&&d| d >= rank) {
            return Err(format!(
                "sparsity block_map names dimension {d} of a rank-{rank} tensor"
            ));
        }
        Ok(())
    }

    /// Block size of each original dimension (1 where it is not blocked).
    fn block_sizes(&self, rank: usize) -> Res<Vec<usize>> {
        let mut sizes = vec![1usize; rank];
        for (j, &d) in self.block_map.iter().enumerate() {
            // The level that walks block dimension rank + j holds the block's size.
            let at = self
                .traversal_order
                .iter()
                .position(|&t| t == rank + j)
                .expect("checked: a permutation");
            match self.levels[at] {
                Level::Dense(0) => return Err("sparsity: a block of size 0".into()),
                Level::Dense(n) => sizes[d] = sizes[d].saturating_mul(n),
                Level::Csr { .. } => {
                    return Err("sparsity: a block dimension is SPARSE_CSR; TFLite keeps block dimensions dense".into())
                }
            }
        }
        Ok(sizes)
    }

    /// The dense tensor of `shape` (C order) whose stored values are `values`, each
    /// `item` bytes. Positions the encoding does not name are zero bytes (0.0, code 0).
    pub(crate) fn densify(&self, shape: &[usize], item: usize, values: &[u8]) -> Res<Vec<u8>> {
        let rank = shape.len();
        let block = self.block_sizes(rank)?;
        let numel = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .and_then(|n| n.checked_mul(item))
            .ok_or_else(|| format!("sparse tensor of shape {shape:?} is too large"))?;
        if values.len() % item != 0 {
            return Err(format!(
                "sparse tensor: {} value bytes are not a whole number of {item}-byte elements",
                values.len()
            ));
        }
        let mut w = Walk {
            sp: self,
            shape,
            block: &block,
            item,
            values,
            next: 0,
            out: vec![0u8; numel],
            index: vec![0; self.levels.len()],
        };
        w.level(0, 0)?;
        if w.next * item != values.len() {
            return Err(format!(
                "sparse tensor stores {} values but its index metadata places {}",
                values.len() / item,
                w.next
            ));
        }
        Ok(w.out)
    }
}

struct Walk<'a> {
    sp: &'a Sparsity,
    shape: &'a [usize],
    block: &'a [usize],
    item: usize,
    values: &'a [u8],
    /// Stored values consumed so far.
    next: usize,
    out: Vec<u8>,
    /// The index at each traversal level on the way down.
    index: Vec<usize>,
}

impl Walk<'_> {
    fn level(&mut self, level: usize, parent: usize) -> Res<()> {
        if level == self.index.len() {
            return self.leaf();
        }
        match &self.sp.levels[level] {
            &Level::Dense(n) => {
                // A lying dense size cannot make this loop run long: every path below
                // ends in a leaf (which takes a stored value or fails) or at a CSR
                // level's segment lookup (one distinct position each, failing past the
                // segments the file stores).
                for i in 0..n {
                    self.index[level] = i;
                    let p = parent
                        .checked_mul(n)
                        .and_then(|p| p.checked_add(i))
                        .ok_or("sparse tensor: position overflows")?;
                    self.level(level + 1, p)?;
                }
                Ok(())
            }
            Level::Csr { segments, indices } => {
                let (Some(&a), Some(&b)) = (segments.get(parent), segments.get(parent + 1)) else {
                    return Err(format!(
                        "sparse tensor: level {level} has {} array_segments, position {parent} needs {}",
                        segments.len(),
                        parent + 2
                    ));
                };
                if a > b || b > indices.len() {
                    return Err(format!(
                        "sparse tensor: level {level} segment [{a}, {b}) does not lie in its {} array_indices",
                        indices.len()
                    ));
                }
                for (i, &at) in indices.iter().enumerate().take(b).skip(a) {
                    self.index[level] = at;
                    self.level(level + 1, i)?;
                }
                Ok(())
            }
        }
    }

    fn leaf(&mut self) -> Res<()> {
        let rank = self.shape.len();
        let mut orig = [0usize; MAX_LEVELS];
        for (l, &d) in self.sp.traversal_order[..rank].iter().enumerate() {
            orig[d] = self.index[l];
        }
        for l in rank..self.index.len() {
            let d = self.sp.block_map[self.sp.traversal_order[l] - rank];
            orig[d] = orig[d]
                .checked_mul(self.block[d])
                .and_then(|x| x.checked_add(self.index[l]))
                .ok_or("sparse tensor: index overflows")?;
        }
        let mut flat = 0usize;
        for (d, &n) in self.shape.iter().enumerate() {
            if orig[d] >= n {
                return Err(format!(
                    "sparse tensor: a stored value lands at index {} of dimension {d}, which has {n}",
                    orig[d]
                ));
            }
            flat = flat * n + orig[d];
        }
        let src = self.next * self.item;
        let Some(v) = self.values.get(src..src + self.item) else {
            return Err(format!(
                "sparse tensor: the index metadata places more than the {} stored values",
                self.values.len() / self.item
            ));
        };
        self.out[flat * self.item..(flat + 1) * self.item].copy_from_slice(v);
        self.next += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn back(b: &[u8]) -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    // The 4x4 matrix [[1,0,2,3],[0,4,0,0],[0,0,5,0],[0,0,0,6]] in 2x2 blocks: block rows
    // dense, block columns CSR, each stored block dense (as TFLite's converter writes).
    #[test]
    fn block_csr_matrix() {
        // Blocks (2x2) of a 4x4 matrix: block row 0 has block columns 0 and 1, block row
        // 1 has block column 1.
        let sp = Sparsity {
            traversal_order: vec![0, 1, 2, 3],
            block_map: vec![0, 1],
            levels: vec![
                Level::Dense(2),
                Level::Csr {
                    segments: vec![0, 2, 3],
                    indices: vec![0, 1, 1],
                },
                Level::Dense(2),
                Level::Dense(2),
            ],
        };
        let stored = f32s(&[1., 0., 0., 4., 2., 3., 0., 0., 5., 0., 0., 6.]);
        let dense = back(&sp.densify(&[4, 4], 4, &stored).unwrap());
        assert_eq!(
            dense,
            vec![1., 0., 2., 3., 0., 4., 0., 0., 0., 0., 5., 0., 0., 0., 0., 6.]
        );
    }

    #[test]
    fn column_major_traversal_and_lies() {
        // 2x3, stored column by column, all dense.
        let sp = Sparsity {
            traversal_order: vec![1, 0],
            block_map: vec![],
            levels: vec![Level::Dense(3), Level::Dense(2)],
        };
        let dense = back(
            &sp.densify(&[2, 3], 4, &f32s(&[1., 4., 2., 5., 3., 6.]))
                .unwrap(),
        );
        assert_eq!(dense, vec![1., 2., 3., 4., 5., 6.]);
        // Too few stored values, too many, an index past the shape, a segment past the
        // indices, a lying dense size: each an error, none a panic.
        assert!(sp.densify(&[2, 3], 4, &f32s(&[1.; 5])).is_err());
        assert!(sp.densify(&[2, 3], 4, &f32s(&[1.; 7])).is_err());
        let big = Sparsity {
            levels: vec![Level::Dense(3), Level::Dense(3)],
            ..sp.clone()
        };
        let e = big.densify(&[2, 3], 4, &f32s(&[1.; 9])).unwrap_err();
        assert!(e.contains("dimension 0, which has 2"), "{e}");
        let huge = Sparsity {
            levels: vec![Level::Dense(usize::MAX), Level::Dense(2)],
            ..sp.clone()
        };
        assert!(huge.densify(&[2, 3], 4, &f32s(&[1.; 6])).is_err());
        let csr = Sparsity {
            traversal_order: vec![0, 1],
            block_map: vec![],
            levels: vec![
                Level::Dense(2),
                Level::Csr {
                    segments: vec![0, 1, 9],
                    indices: vec![0, 2],
                },
            ],
        };
        assert!(csr.densify(&[2, 3], 4, &f32s(&[1.; 2])).is_err());
        assert!(Sparsity {
            traversal_order: vec![0, 0],
            ..csr.clone()
        }
        .check(2)
        .is_err());
        assert!(csr.check(3).is_err());
    }
}
