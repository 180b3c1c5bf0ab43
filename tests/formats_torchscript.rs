//! TorchScript archives (torch.jit.save): a traced module made by PyTorch 2.5.1 and the
//! silero-vad package's silero_vad.jit, their tensors (data.pkl's `__torch__` objects
//! read as plain dicts, constants.pkl's tuple) equal to torch's own
//! (scripts/gen_torchscript_fixtures.py), and broken archives refused by name.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/models.rs"]
mod models_support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use quantscope::Format;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torchscript")
}

fn fnv1a64(values: &[f32]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in values.iter().flat_map(|v| v.to_le_bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

#[test]
fn traced_module_equals_torch() {
    let bytes = std::fs::read(dir().join("small.pt")).unwrap();
    assert_eq!(
        quantscope::formats::detect(&bytes),
        Some(Format::Torchscript)
    );
    let model = quantscope::open(&bytes, "small.pt").unwrap();
    assert_eq!(model.format, Format::Torchscript);
    let want = quantscope::open(
        &std::fs::read(dir().join("small.npz")).unwrap(),
        "small.npz",
    )
    .unwrap();
    let mut got: Vec<&str> = model.tensors.iter().map(|t| t.name.as_str()).collect();
    let mut names: Vec<&str> = want.tensors.iter().map(|t| t.name.as_str()).collect();
    got.sort();
    names.sort();
    assert_eq!(got, names);
    assert!(names.iter().any(|n| n.starts_with("constants.")));
    for w in &want.tensors {
        let t = model.tensor(&w.name).unwrap();
        assert_eq!(t.shape, w.shape, "{}", w.name);
        assert_eq!(t.dtype, w.dtype, "{}", w.name);
        let a: Vec<u32> = t.data.iter().map(|v| v.to_bits()).collect();
        let b: Vec<u32> = w.data.iter().map(|v| v.to_bits()).collect();
        assert_eq!(a, b, "{}", w.name);
    }
    // The scalar attributes of its modules are not repeated as metadata.
    assert!(!model.metadata.keys().any(|k| k.ends_with(".training")));
}

fn silero_jit() -> Option<PathBuf> {
    let out = std::process::Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
    )
    .args([
        "-c",
        "import importlib.util as u; s = u.find_spec('silero_vad'); print(s.submodule_search_locations[0] if s else '')",
    ])
    .output()
    .ok()?;
    let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()).join("data/silero_vad.jit");
    if p.is_file() {
        Some(p)
    } else {
        models_support::skip(
            "silero_vad.jit of `silero-vad`",
            "Run `bash scripts/setup-python.sh` (npm test does).",
        );
        None
    }
}

#[test]
fn silero_vad_jit_equals_torch() {
    let Some(path) = silero_jit() else { return };
    let model = quantscope::open(&std::fs::read(&path).unwrap(), "silero_vad.jit").unwrap();
    let want: Value =
        serde_json::from_slice(&std::fs::read(dir().join("expected.json")).unwrap()).unwrap();
    let want = want["silero_vad.jit"].as_object().unwrap();
    assert_eq!(model.tensors.len(), want.len());
    for (name, w) in want {
        let t = model.tensor(name).unwrap();
        let shape: Vec<usize> = serde_json::from_value(w["shape"].clone()).unwrap();
        assert_eq!(t.shape, shape, "{name}");
        assert_eq!(fnv1a64(&t.data), w["fnv1a64"].as_str().unwrap(), "{name}");
    }
}

/// small.pt with its members passed through `edit` (name, bytes) -> Some(new bytes) or
/// None to leave the member out.
fn rewritten(edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>) -> Vec<u8> {
    let bytes = std::fs::read(dir().join("small.pt")).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        if let Some(d) = edit(&name, data) {
            out.start_file(name, opts).unwrap();
            out.write_all(&d).unwrap();
        }
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn broken_archives_are_refused_by_name() {
    let err = |b: &[u8]| quantscope::open(b, "bad.pt").unwrap_err().to_string();
    // A storage record left out.
    let e = err(&rewritten(|n, d| (!n.ends_with("/data/0")).then_some(d)));
    assert!(e.contains("storage `0` is missing"), "{e}");
    // A storage shorter than its tensors say (a truncated record).
    let e = err(&rewritten(|n, mut d| {
        if n.ends_with("/data/1") {
            d.truncate(d.len() / 2);
        }
        Some(d)
    }));
    assert!(e.contains("storage `1` holds"), "{e}");
    // A pickle that names a global which is not a tensor, storage or TorchScript class.
    let e = err(&rewritten(|n, d| {
        Some(if n.ends_with("/data.pkl") {
            b"\x80\x02cos\nsystem\nq\x00.".to_vec()
        } else {
            d
        })
    }));
    assert!(e.contains("`os.system`") && e.contains("refused"), "{e}");
    // A truncated pickle.
    let e = err(&rewritten(|n, mut d| {
        if n.ends_with("/constants.pkl") {
            d.truncate(d.len() - 3);
        }
        Some(d)
    }));
    assert!(
        e.contains("constants.pkl") && e.contains("truncated"),
        "{e}"
    );
    // The file itself cut anywhere: an error, never a panic.
    let bytes = std::fs::read(dir().join("small.pt")).unwrap();
    for cut in (0..bytes.len()).step_by(61) {
        assert!(quantscope::open(&bytes[..cut], "cut.pt").is_err());
    }
}
