//! Training data: an .npz with `x_train`, `y_train`, `x_test`, `y_test` (the built-in
//! digits file that scripts/digits.py makes, or a user's of the same kind), checked
//! before anything trains on it.

use crate::error::{Error, Result};
use crate::tensor::DType;

/// Most samples (train + test) the lab trains on: enough for small tabular and image
/// sets, small enough that a page's worker never holds more than ~400 MB of inputs.
pub const MAX_SAMPLES: usize = 100_000;
/// Most values per sample (e.g. 64x64 pixels, or 4096 features).
pub const MAX_FEATURES: usize = 4096;
/// Most classes.
pub const MAX_CLASSES: usize = 1000;

/// A classification dataset, inputs in f32, labels 0..classes.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub x_train: Vec<f32>,
    pub y_train: Vec<u32>,
    pub x_test: Vec<f32>,
    pub y_test: Vec<u32>,
    /// The shape of one sample: [features], [h, w] or [c, h, w].
    pub sample_shape: Vec<usize>,
    pub classes: usize,
}

fn bad(why: String) -> Error {
    Error::Invalid(format!("training data: {why}"))
}

impl Dataset {
    /// Features per sample.
    pub fn features(&self) -> usize {
        self.sample_shape.iter().product()
    }

    pub fn n_train(&self) -> usize {
        self.y_train.len()
    }

    pub fn n_test(&self) -> usize {
        self.y_test.len()
    }

    /// The (channels, height, width) a convolutional model sees: images as they are, or
    /// a vector whose length is a square number as one square channel (digits: 64 = 8x8).
    pub fn image_shape(&self) -> Result<(usize, usize, usize)> {
        let (c, h, w) = self.image_shape_any()?;
        if h < 2 || w < 2 {
            // The CNN's 2x2 max-pool would leave nothing to classify.
            return Err(bad(format!(
                "the CNN needs images of at least 2x2 pixels, not {h}x{w}; use the MLP"
            )));
        }
        Ok((c, h, w))
    }

    fn image_shape_any(&self) -> Result<(usize, usize, usize)> {
        match self.sample_shape[..] {
            [c, h, w] => Ok((c, h, w)),
            [h, w] => Ok((1, h, w)),
            [d] => {
                let s = (d as f64).sqrt().round() as usize;
                if s * s == d {
                    Ok((1, s, s))
                } else {
                    Err(bad(format!(
                        "the CNN needs images: samples of {d} values are neither (h, w), (c, h, w) nor a square number of pixels; use the MLP"
                    )))
                }
            }
            _ => Err(bad(format!(
                "samples of shape {:?} are not images",
                self.sample_shape
            ))),
        }
    }

    /// Reads and checks an .npz: x arrays of shape (n, ...) with 1 to 3 axes per sample,
    /// any numeric dtype, finite; y arrays of shape (n,) with integer labels from 0.
    pub fn from_npz(bytes: &[u8], name: &str) -> Result<Dataset> {
        let model = crate::formats::npy::read_npz(bytes, name)?;
        let names: Vec<String> = model
            .info()
            .tensors
            .iter()
            .map(|t| t.name.clone())
            .collect();
        let want = ["x_train", "y_train", "x_test", "y_test"];
        let missing: Vec<&str> = want
            .iter()
            .copied()
            .filter(|w| !names.iter().any(|n| n == w))
            .collect();
        if !missing.is_empty() {
            return Err(bad(format!(
                "{name} lacks {}; it holds {}. Expected arrays x_train, y_train, x_test, y_test",
                missing.join(", "),
                if names.is_empty() {
                    "nothing".into()
                } else {
                    names.join(", ")
                }
            )));
        }
        let x_train = model.tensor("x_train")?;
        let x_test = model.tensor("x_test")?;
        let y_train = model.tensor("y_train")?;
        let y_test = model.tensor("y_test")?;
        for t in [x_train, x_test, y_train, y_test] {
            let int = matches!(
                t.dtype,
                DType::I64
                    | DType::I32
                    | DType::I16
                    | DType::I8
                    | DType::U64
                    | DType::U32
                    | DType::U16
                    | DType::U8
            );
            if !(t.dtype.is_float() || int) {
                return Err(bad(format!(
                    "`{}` is {}, not a number type",
                    t.name, t.dtype
                )));
            }
        }
        if x_train.shape.len() < 2 || x_train.shape.len() > 4 {
            return Err(bad(format!(
                "x_train has shape {:?}: expected (samples, features), (samples, h, w) or (samples, c, h, w)",
                x_train.shape
            )));
        }
        let sample_shape = x_train.shape[1..].to_vec();
        if x_test.shape.len() != x_train.shape.len() || x_test.shape[1..] != sample_shape[..] {
            return Err(bad(format!(
                "x_test's samples have shape {:?}, x_train's {:?}",
                &x_test.shape[1.min(x_test.shape.len())..],
                sample_shape
            )));
        }
        let features: usize = sample_shape.iter().product();
        if features == 0 || features > MAX_FEATURES {
            return Err(bad(format!(
                "{features} values per sample; the lab takes 1 to {MAX_FEATURES}"
            )));
        }
        let (n_train, n_test) = (x_train.shape[0], x_test.shape[0]);
        if n_train == 0 || n_test == 0 {
            return Err(bad(format!(
                "{n_train} training and {n_test} test samples: both splits need samples"
            )));
        }
        if n_train + n_test > MAX_SAMPLES {
            return Err(bad(format!(
                "{} samples; the lab takes at most {MAX_SAMPLES}",
                n_train + n_test
            )));
        }
        for (y, n) in [(y_train, n_train), (y_test, n_test)] {
            if y.shape != [n] {
                return Err(bad(format!(
                    "`{}` has shape {:?}; expected ({n},), one label per sample",
                    y.name, y.shape
                )));
            }
        }
        for x in [x_train, x_test] {
            if let Some(i) = x.data.iter().position(|v| !v.is_finite()) {
                return Err(bad(format!(
                    "`{}` holds a non-finite value at flat index {i}",
                    x.name
                )));
            }
        }
        let labels = |t: &crate::Tensor| -> Result<Vec<u32>> {
            t.data
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if v.fract() != 0.0 || v < 0.0 || v >= MAX_CLASSES as f32 {
                        Err(bad(format!(
                            "`{}`[{i}] = {v}: labels must be whole numbers 0..{}",
                            t.name,
                            MAX_CLASSES - 1
                        )))
                    } else {
                        Ok(v as u32)
                    }
                })
                .collect()
        };
        let ytr = labels(y_train)?;
        let yte = labels(y_test)?;
        let classes = ytr.iter().chain(&yte).copied().max().unwrap_or(0) as usize + 1;
        if classes < 2 {
            return Err(bad(
                "every label is 0: at least two classes are needed".into()
            ));
        }
        Ok(Dataset {
            x_train: x_train.data.clone(),
            y_train: ytr,
            x_test: x_test.data.clone(),
            y_test: yte,
            sample_shape,
            classes,
        })
    }
}
