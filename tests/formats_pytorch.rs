//! PyTorch checkpoints, zip (little- and big-endian) and legacy, against numpy's view of
//! each storage through the tensor's offset, size and stride. The fixtures are pickled
//! by Python's pickle with stand-ins for torch's globals (scripts/gen_format_fixtures.py
//! says how their fidelity was established).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use quantscope::formats::Format;

fn check(rel: &str) {
    let model = quantscope::open(&common::read(rel), rel).unwrap();
    assert_eq!(model.format, Format::Pytorch, "{rel}");
    common::assert_matches_tool(&model, rel);
    let t = model.tensor("model.encoder.weight_t").unwrap();
    assert_eq!(
        t.shape,
        vec![4, 3],
        "a transposed view is read through its strides"
    );
}

#[test]
fn zip_checkpoint_equals_numpy_views() {
    check("pytorch/checkpoint_zip.pt");
}

#[test]
fn big_endian_zip_checkpoint_equals_numpy_views() {
    check("pytorch/checkpoint_bigendian.pt");
}

#[test]
fn legacy_checkpoint_equals_numpy_views() {
    check("pytorch/checkpoint_legacy.pt");
}

#[test]
fn zip_checkpoints_read_lazily_equal_the_whole_read() {
    for rel in [
        "pytorch/checkpoint_zip.pt",
        "pytorch/checkpoint_bigendian.pt",
    ] {
        let files = [(rel, common::read(rel))];
        common::assert_lazy_equals_eager(&files, true);
    }
    // The legacy stream keeps storages inline after the pickles: read whole.
    let rel = "pytorch/checkpoint_legacy.pt";
    common::assert_lazy_equals_eager(&[(rel, common::read(rel))], false);
}

/// A checkpoint written by torch.save itself (PyTorch 2.5.1, scripts/gen_torch_fixtures.py):
/// every tensor's dtype, shape and values equal what torch.load gives back, read whole
/// and read lazily (views sharing a storage included).
#[test]
fn a_checkpoint_torch_saved_equals_torch_load() {
    let dir = "pytorch";
    let rel = format!("{dir}/torch_saved.pt");
    let bytes = common::read(&rel);
    let model = quantscope::open(&bytes, &rel).unwrap();
    assert_eq!(model.format, Format::Pytorch);
    let expected = quantscope::open(
        &common::read(&format!("{dir}/torch_saved.expected.npz")),
        "expected.npz",
    )
    .unwrap();
    let listing =
        String::from_utf8(common::read(&format!("{dir}/torch_saved.dtypes.txt"))).unwrap();
    let torch_dtype = |d: &str| match d {
        "float32" => "F32",
        "float16" => "F16",
        "bfloat16" => "BF16",
        "int64" => "I64",
        "int8" => "I8",
        "uint8" => "U8",
        "bool" => "BOOL",
        other => panic!("torch dtype {other} not in this test"),
    };
    let mut seen = 0;
    for line in listing.lines() {
        let mut it = line.splitn(3, ' ');
        let (name, dtype, shape) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        let shape: Vec<usize> = serde_json::from_str(shape).unwrap();
        let t = model.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.dtype.name(), torch_dtype(dtype), "{name}");
        assert_eq!(t.shape, shape, "{name}");
        let want = expected.tensor(name).unwrap();
        assert_eq!(t.data, want.data, "{name}: values");
        seen += 1;
    }
    assert_eq!(
        seen,
        model.tensors.len(),
        "every tensor is in torch's listing"
    );
    common::assert_lazy_equals_eager(&[(rel.as_str(), bytes)], true);
}
