//! The search space: candidate schemes as the user names them, and their resolution for
//! one tensor (which axis "per channel" and "groups" mean depends on the op reading it).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::export::ExportFormat;
use crate::quant::{Granularity, Scheme};

/// The candidates `quantscope auto` and the page offer unless told otherwise: int8 and
/// int4 per output channel, int4 in groups of 128 along the reduction axis (ONNX
/// Runtime's MatMulNBits layout), ggml's Q8_0 and Q4_K, bitsandbytes' NF4, and float.
pub const DEFAULT: &[&str] = &[
    "int8-sym-ch",
    "int4-sym-ch",
    "int4-asym-group128",
    "q8_0",
    "q4_k",
    "nf4",
    "float",
];

/// A candidate: keep the tensor as it is, or a scheme whose per-channel axis or group
/// axis may be left to the tensor's layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// As written for people: the scheme's canonical string, except that `-ch` without a
    /// number means "the output-channel axis" and `-groupN` without `-axA` "along the
    /// reduction axis"; `float` keeps the tensor.
    pub label: String,
    /// None: keep float.
    pub scheme: Option<Scheme>,
    /// `-ch` had no axis.
    pub out_axis: bool,
    /// `-groupN` had no `-axA`.
    pub reduce_axis: bool,
}

/// Which axes of a weight hold its output channels and its reduction (input) values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub out_axis: usize,
    pub reduce_axis: usize,
}

impl Layout {
    /// The layout of a weight by the op that reads it: `out_axis` as
    /// [`crate::graph::Session::output_axis`] gives it; the reduction axis is the other
    /// of the two matrix axes (for Conv, axis 1: input channels).
    pub fn for_out_axis(out_axis: usize, rank: usize) -> Layout {
        let reduce_axis = if rank >= 2 && out_axis == rank - 1 {
            rank - 2
        } else if out_axis == 0 {
            1
        } else {
            rank.saturating_sub(1)
        };
        Layout {
            out_axis,
            reduce_axis,
        }
    }

    /// PyTorch's and the GGUF converters' `[out, in, ...]`: channels along axis 0,
    /// groups along the last axis (what a file without a graph is taken to hold).
    pub fn rows(rank: usize) -> Layout {
        Layout {
            out_axis: 0,
            reduce_axis: rank.saturating_sub(1),
        }
    }
}

impl Candidate {
    /// Parses one candidate (`float`/`keep` or any scheme string).
    pub fn parse(s: &str) -> Result<Candidate> {
        let lower = s.trim().to_ascii_lowercase();
        if lower.is_empty() {
            return Err(Error::Auto("an empty candidate in the list".into()));
        }
        if matches!(lower.as_str(), "float" | "keep" | "f32" | "fp32") {
            return Ok(Candidate {
                label: "float".into(),
                scheme: None,
                out_axis: false,
                reduce_axis: false,
            });
        }
        let scheme: Scheme = lower.parse()?;
        let toks: Vec<&str> = lower.split('-').collect();
        let out_axis = matches!(scheme, Scheme::Linear(ref l) if matches!(l.granularity, Granularity::PerChannel { .. }))
            && toks.contains(&"ch");
        let reduce_axis = matches!(scheme, Scheme::Linear(ref l) if matches!(l.granularity, Granularity::PerGroup { axis: None, .. }));
        let mut label = scheme.to_string();
        if out_axis {
            // The canonical string prints `-ch0`; the axis is the tensor's.
            label = label.replacen("-ch0", "-ch", 1);
        }
        Ok(Candidate {
            label,
            scheme: Some(scheme),
            out_axis,
            reduce_axis,
        })
    }

    /// Parses a comma-separated list (duplicates refused: they would tie everywhere).
    pub fn parse_list(list: &[String]) -> Result<Vec<Candidate>> {
        let mut out: Vec<Candidate> = Vec::new();
        for s in list.iter().flat_map(|s| s.split(',')) {
            if s.trim().is_empty() {
                continue;
            }
            let c = Candidate::parse(s)?;
            if out.iter().any(|o| o.label == c.label) {
                return Err(Error::Auto(format!(
                    "candidate `{}` is listed twice",
                    c.label
                )));
            }
            out.push(c);
        }
        if out.is_empty() {
            return Err(Error::Auto("no candidates given".into()));
        }
        Ok(out)
    }

    pub fn defaults() -> Vec<Candidate> {
        DEFAULT
            .iter()
            .map(|s| Candidate::parse(s).expect("the default candidates parse"))
            .collect()
    }

    /// The candidates of `list` that one `format` file can hold (float always), and a
    /// note naming those left out with the writer's reason: a mix of, say, Q4_K and
    /// int4 per channel has no file to go in (GGUF stores ggml types only, ONNX QDQ and
    /// safetensors linear codes only), so a search meant for one format keeps to it.
    pub fn for_format(
        list: Vec<Candidate>,
        format: ExportFormat,
    ) -> Result<(Vec<Candidate>, Option<String>)> {
        let mut dropped = Vec::new();
        let kept: Vec<Candidate> = list
            .into_iter()
            .filter(|c| match &c.scheme {
                None => true,
                Some(s) => match crate::export::writes(format, s) {
                    Ok(()) => true,
                    Err(_) => {
                        dropped.push(c.label.clone());
                        false
                    }
                },
            })
            .collect();
        if kept.iter().all(|c| c.scheme.is_none()) {
            return Err(Error::Auto(format!(
                "no candidate can be written as {}: {} {}",
                format.label(),
                if dropped.is_empty() {
                    "the list has only float".to_string()
                } else {
                    dropped.join(", ")
                },
                match format {
                    ExportFormat::Gguf => "(GGUF stores ggml types and fp16/bf16)",
                    ExportFormat::Onnx => "(ONNX QDQ stores linear int2-int8 codes)",
                    ExportFormat::Safetensors =>
                        "(safetensors stores linear codes and float casts)",
                    ExportFormat::Tfjs => "(TF.js stores tfjs-uint8/uint16 and fp16)",
                }
            )));
        }
        let note = (!dropped.is_empty()).then(|| {
            format!(
                "candidates left out because {} cannot store them: {}",
                format.label(),
                dropped.join(", ")
            )
        });
        Ok((kept, note))
    }

    /// The scheme this candidate applies to a tensor of `layout` (None: keep float).
    pub fn resolve(&self, layout: Layout) -> Option<Scheme> {
        let mut s = self.scheme.clone()?;
        if let Scheme::Linear(l) = &mut s {
            match &mut l.granularity {
                Granularity::PerChannel { axis } if self.out_axis => *axis = layout.out_axis,
                Granularity::PerGroup { axis, .. } if self.reduce_axis => {
                    *axis = Some(layout.reduce_axis)
                }
                _ => {}
            }
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_format_keeps_what_the_writer_stores() {
        let all = Candidate::defaults();
        let labels = |f| {
            let (c, note) = Candidate::for_format(all.clone(), f).unwrap();
            (c.into_iter().map(|c| c.label).collect::<Vec<_>>(), note)
        };
        let (gguf, note) = labels(ExportFormat::Gguf);
        assert_eq!(gguf, ["q8_0", "q4_k", "float"]);
        assert!(note
            .unwrap()
            .contains("int8-sym-ch, int4-sym-ch, int4-asym-group128, nf4"));
        let (onnx, _) = labels(ExportFormat::Onnx);
        assert_eq!(
            onnx,
            ["int8-sym-ch", "int4-sym-ch", "int4-asym-group128", "float"]
        );
        let (st, _) = labels(ExportFormat::Safetensors);
        assert!(!st.iter().any(|l| l.starts_with('q')), "{st:?}");
        let only_nf4 = Candidate::parse_list(&["nf4,float".into()]).unwrap();
        let e = Candidate::for_format(only_nf4, ExportFormat::Gguf).unwrap_err();
        assert!(
            e.to_string()
                .contains("no candidate can be written as GGUF: nf4"),
            "{e}"
        );
    }

    #[test]
    fn defaults_parse_and_resolve_per_layout() {
        let c = Candidate::defaults();
        assert_eq!(c.len(), DEFAULT.len());
        let labels: Vec<&str> = c.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, DEFAULT);
        // MatMul's B [K, N]: channels on axis 1, groups along K (axis 0).
        let mm = Layout::for_out_axis(1, 2);
        assert_eq!(mm.reduce_axis, 0);
        assert_eq!(c[0].resolve(mm).unwrap().to_string(), "int8-sym-ch1");
        assert_eq!(
            c[2].resolve(mm).unwrap().to_string(),
            "int4-asym-group128-ax0"
        );
        // Conv [O, I, kh, kw]: channels on 0, groups along input channels.
        let conv = Layout::for_out_axis(0, 4);
        assert_eq!(c[1].resolve(conv).unwrap().to_string(), "int4-sym-ch0");
        assert_eq!(
            c[2].resolve(conv).unwrap().to_string(),
            "int4-asym-group128-ax1"
        );
        assert_eq!(c[3].resolve(conv).unwrap().to_string(), "q8_0");
        assert!(c[6].resolve(conv).is_none());
    }

    #[test]
    fn explicit_axes_are_kept_and_bad_lists_refused() {
        let c = Candidate::parse("int8-sym-ch0").unwrap();
        assert!(!c.out_axis);
        assert_eq!(
            c.resolve(Layout::for_out_axis(1, 2)).unwrap().to_string(),
            "int8-sym-ch0"
        );
        let g = Candidate::parse("int4-asym-group32-ax1").unwrap();
        assert!(!g.reduce_axis);
        for (list, needle) in [
            (vec!["int8-sym-ch,int8-sym-ch".to_string()], "twice"),
            (vec!["".to_string()], "no candidates"),
            (vec!["int9".to_string()], "between 2 and 8"),
        ] {
            let e = Candidate::parse_list(&list).unwrap_err().to_string();
            assert!(e.contains(needle), "{list:?}: {e}");
        }
    }
}
