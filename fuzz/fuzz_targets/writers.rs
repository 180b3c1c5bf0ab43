#![no_main]
//! Fuzzes the writers: tensors made from the input (shapes, values, NaN and infinities
//! included) go through quantize and export to GGUF and safetensors; every written file
//! must read back, hold every source tensor, and (GGUF) give back exactly the values the
//! scheme reconstructs; each report row must equal the summary `quantize` prints. ONNX
//! is left out: its writer rewrites a source ONNX model, which this input does not make.
use std::collections::BTreeMap;

use quantscope::export::{self, ExportFormat};
use quantscope::{analysis, DType, Format, Model, Scheme, Tensor};

const GGUF: &[&str] = &["q8_0", "q4_0", "q4_k", "q6_k", "fp16", "bf16", "q5_1"];
const ST: &[&str] = &[
    "int8-sym",
    "int8-sym-ch0",
    "uint8-asym-ch1",
    "int4-asym-group8",
    "int4-sym-group3-ax0",
    "int16-asym-ch0",
    "torch-uint4-sym",
    "fp16",
    "fp8-e4m3",
];

fn tensors(data: &[u8]) -> Vec<Tensor> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 3 && out.len() < 4 {
        let (rank, a, b) = (rest[0] % 4, rest[1] as usize % 70 + 1, rest[2] as usize % 9 + 1);
        rest = &rest[3..];
        let shape: Vec<usize> = match rank {
            0 => vec![a],
            1 => vec![b, a],
            2 => vec![b, 2, a],
            _ => vec![],
        };
        let n: usize = shape.iter().product();
        let take = (n * 4).min(rest.len() / 4 * 4);
        let mut vals: Vec<f32> = rest[..take]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        rest = &rest[take..];
        // Short inputs: the rest of the tensor is a ramp, so shapes stay what was asked.
        while vals.len() < n {
            vals.push(vals.len() as f32 * 0.01 - 0.3);
        }
        out.push(Tensor {
            name: format!("t{}.weight", out.len()),
            shape,
            dtype: DType::F32,
            data: vals,
        });
    }
    out
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a == b) || (a.is_nan() && b.is_nan())
}

/// Equal metrics, NaN equal to NaN (values near f32's limits overflow the error sums).
fn same_metrics(a: &quantscope::metrics::Metrics, b: &quantscope::metrics::Metrics) {
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let pick = data[0] as usize;
    let model = Model::new(Format::Safetensors, tensors(&data[1..]), BTreeMap::new());
    if model.tensors.is_empty() {
        return;
    }
    let gguf: Scheme = GGUF[pick % GGUF.len()].parse().unwrap();
    if let Ok(e) = export::export(&model, ExportFormat::Gguf, &gguf, None) {
        let back = quantscope::formats::gguf::read(&e.bytes, "fuzz.gguf")
            .unwrap_or_else(|err| panic!("written GGUF does not read back: {err}"));
        for t in &model.tensors {
            let row = e.report.tensors.iter().find(|r| r.name == t.name).expect("a report row per tensor");
            let got = back.tensor(&t.name).unwrap_or_else(|_| panic!("`{}` missing from the GGUF", t.name));
            assert_eq!(got.data.len(), t.data.len(), "`{}`: element count", t.name);
            if row.quantized {
                let want = gguf.encode(t).expect("the writer quantized it").dequantize();
                assert!(
                    got.data.iter().zip(&want).all(|(a, b)| same(*a, *b)),
                    "`{}`: GGUF values differ from the scheme's reconstruction", t.name
                );
                let summary = row.summary.as_ref().expect("a quantized row has a summary");
                same_metrics(&summary.metrics, &analysis::summarize(t, &gguf).unwrap().metrics);
            }
        }
    }
    let st: Scheme = ST[(pick / GGUF.len()) % ST.len()].parse().unwrap();
    if let Ok(e) = export::export(&model, ExportFormat::Safetensors, &st, None) {
        let back = quantscope::open(&e.bytes, "fuzz.safetensors")
            .unwrap_or_else(|err| panic!("written safetensors does not read back: {err}"));
        let names: Vec<String> = back.info().tensors.into_iter().map(|t| t.name).collect();
        for t in &model.tensors {
            let row = e.report.tensors.iter().find(|r| r.name == t.name).expect("a report row per tensor");
            assert!(
                names.iter().any(|n| n == &t.name || n.starts_with(&format!("{}.", t.name.trim_end_matches(".weight")))),
                "`{}` missing from the safetensors file: {names:?}", t.name
            );
            if let Some(summary) = row.summary.as_ref().filter(|_| row.quantized) {
                if matches!(st, Scheme::Linear(_)) {
                    same_metrics(&summary.metrics, &analysis::summarize(t, &st).unwrap().metrics);
                }
            }
        }
    }
});
