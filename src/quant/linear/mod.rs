//! Linear (uniform) integer quantization: 2 to 8 or 16 bits, signed or unsigned,
//! symmetric or affine, per tensor, per channel or per group, with a range estimator and a
//! rounding mode; codes packed at their bit width.
//!
//! Without a tool prefix, parameters follow ONNX Runtime's `compute_scale_zp` generalised
//! to every width: the range is widened to include zero, the scale is computed in f64 and
//! stored as f32 (a scale below the smallest normal f32 becomes 1 with zero point 0),
//! signed symmetric codes use ±(2^(b-1) - 1) (so int8 divides by 127), affine signed codes
//! [-2^(b-1), 2^(b-1) - 1], unsigned codes [0, 2^b - 1] (symmetric: zero point
//! round((qmin + qmax) / 2)), and q = clamp(round(x / scale) + zp). Tool prefixes
//! (`ort-`, `torch-`, `tflite-`, `tfjs-`) are in [`crate::quant::convention`], one file per tool.
//!
//! Granularity: `tensor`; `ch<axis>` (one scale per index along the axis); `group<size>`
//! (blocks of `size` consecutive indices along the last axis, or along `ax<axis>`; the last
//! block may be shorter; one scale per block and per position of the other axes, stored
//! in C order of the tensor's shape with that axis replaced by the block count, as ONNX's
//! blocked QuantizeLinear lays them out).

//!
//! Where things live: [`spec`] the scheme's data, [`grammar`] its string form, [`layout`]
//! which elements share a slot, [`quantize`] the quantizer, [`codes`] its result.

pub mod codes;
pub mod grammar;
mod layout;
pub mod quantize;
pub mod spec;

pub use codes::QuantizedLinear;
pub use grammar::{parse, parse_with};
pub use spec::{Convention, Granularity, LinearScheme};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{DType, Tensor};

    fn t(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        Tensor {
            name: "t".into(),
            shape,
            dtype: DType::F32,
            data,
        }
    }

    fn s(spec: &str) -> LinearScheme {
        parse(spec).unwrap().unwrap()
    }

    #[test]
    fn grammar_round_trips() {
        for spec in [
            "int8-sym",
            "uint8-asym-ch1",
            "int4-asym-group128",
            "int4-sym-group32-ax0-sr7",
            "uint8-asym-pct99.999",
            "int8-sym-ch0-mse",
            "int3-asym-kl-rna",
            "int16-sym-ch2",
        ] {
            assert_eq!(s(spec).to_string(), spec);
        }
        assert_eq!(s("int8").to_string(), "int8-sym");
        assert_eq!(s("int8-ch").to_string(), "int8-sym-ch0");
    }

    #[test]
    fn groups_along_the_last_axis() {
        let x: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let q = s("uint8-asym-group4")
            .quantize(&t(vec![2, 6], x.clone()))
            .unwrap();
        // Row of 6 in blocks of 4: two groups per row, the second of 2 elements.
        assert_eq!(q.params.len(), 4);
        assert_eq!(q.ranges[1], (4.0, 5.0));
        assert_eq!(q.ranges[3], (10.0, 11.0));
        let q = s("int8-sym-group2-ax0")
            .quantize(&t(vec![4, 3], x))
            .unwrap();
        assert_eq!(q.params.len(), 6);
        assert_eq!(q.ranges[4], (7.0, 10.0));
    }

    #[test]
    fn packed_size_follows_the_width() {
        let x: Vec<f32> = (0..10).map(|i| i as f32 - 5.0).collect();
        for (spec, codes) in [
            ("int4-sym", 5),
            ("int3-sym", 4),
            ("int8-sym", 10),
            ("int16-sym", 20),
            ("int2-sym", 3),
        ] {
            let q = s(spec).quantize(&t(vec![10], x.clone())).unwrap();
            assert_eq!(q.packed.len(), codes, "{spec}");
            assert_eq!(q.packed_bytes(), codes + 4, "{spec}");
        }
        let q = s("uint4-asym-group4").quantize(&t(vec![10], x)).unwrap();
        assert_eq!(q.packed_bytes(), 5 + 3 * 4 + 2);
    }
}
