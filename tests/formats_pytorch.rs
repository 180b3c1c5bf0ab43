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
