//! Broken model files (tests/fixtures/broken/, made by scripts/gen_broken_fixtures.py):
//! each must give its own clear error, never a panic, and never make one allocation
//! larger than the file justifies. One test per file.
#![cfg(not(target_arch = "wasm32"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

/// Records the largest single allocation made by the current thread (tests run on
/// threads of their own, so each test sees only its own allocations).
struct Largest;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.with(|m| m.set(m.get().max(l.size())));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LARGEST.with(|m| m.set(m.get().max(new)));
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Largest = Largest;

fn read(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/broken")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Opens `files` (the first is the model; the others ride along, as external data),
/// expects an error containing `needle`, and checks the largest allocation.
fn rejects(files: &[&str], needle: &str) {
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| read(f)).collect();
    let total: usize = bytes.iter().map(Vec::len).sum();
    let named: Vec<(&str, &[u8])> = files
        .iter()
        .zip(&bytes)
        .map(|(n, b)| (*n, b.as_slice()))
        .collect();
    LARGEST.with(|m| m.set(0));
    let result = quantscope::formats::open_many(&named);
    let largest = LARGEST.with(Cell::get);
    let err = match result {
        Ok(m) => panic!(
            "{files:?} opened ({} tensors) but is broken",
            m.tensors.len()
        ),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(needle), "{files:?}: `{err}` lacks `{needle}`");
    // The page and the CLI open files through ModelFile, which lists tensors from the
    // header and reads each one later: the same file must fail the same way there, at
    // open or at the latest when its tensors are read.
    LARGEST.with(|m| m.set(0));
    let lazy = lazily(files, &bytes);
    let lazy_largest = LARGEST.with(Cell::get);
    assert!(
        lazy.contains(needle),
        "{files:?} read lazily: `{lazy}` lacks `{needle}`"
    );
    let largest = largest.max(lazy_largest);
    // Readers' fixed working buffers (zip, protobuf) stay well under 1 MiB.
    let bound = (4 * total).max(1 << 20);
    assert!(
        largest <= bound,
        "{files:?}: allocated {largest} bytes at once for a {total}-byte input"
    );
}

/// Opens `files` through ModelFile and reads every tensor; the first error, as text.
fn lazily(files: &[&str], bytes: &[Vec<u8>]) -> String {
    use quantscope::formats::source::{ByteSource, InMemory};
    use quantscope::formats::ModelFile;
    use quantscope::TensorStore;
    let sources: Vec<(String, Box<dyn ByteSource>)> = files
        .iter()
        .zip(bytes)
        .map(|(n, b)| {
            (
                n.to_string(),
                Box::new(InMemory(b.clone())) as Box<dyn ByteSource>,
            )
        })
        .collect();
    let model = match ModelFile::open(sources) {
        Ok(m) => m,
        Err(e) => return e.to_string(),
    };
    for t in model.info().tensors {
        if let Err(e) = model.load(&t.name) {
            return e.to_string();
        }
    }
    panic!("{files:?} opened lazily and every tensor read, but the file is broken");
}

macro_rules! broken {
    ($($test:ident: [$($file:literal),+] => $needle:literal;)*) => {
        $(#[test] fn $test() { rejects(&[$($file),+], $needle); })*
    };
}

broken! {
    safetensors_truncated: ["safetensors_truncated.safetensors"] => "data_offsets end at 48, past the 38-byte data section";
    safetensors_absurd_header_length: ["safetensors_absurd_header_length.safetensors"] => "header length field says 4611686018427387904 bytes";
    safetensors_offsets_past_end: ["safetensors_offsets_past_end.safetensors"] => "tensor `w`: data_offsets end at 16, past the 8-byte data section";
    safetensors_overlapping: ["safetensors_overlapping.safetensors"] => "overlap";
    safetensors_shape_overflow: ["safetensors_shape_overflow.safetensors"] => "needs more than 2^64 bytes";
    safetensors_unknown_dtype: ["safetensors_unknown_dtype.safetensors"] => "Q7";
    safetensors_header_not_json: ["safetensors_header_not_json.safetensors"] => "safetensors:";
    npz_nested_zip: ["npz_nested_zip.npz"] => "member `inner.npz` is itself a zip archive";
    npz_ratio_lie: ["npz_ratio_lie.npz"] => "more than deflate can produce (1032:1); refused before inflating";
    npz_inflates_short: ["npz_inflates_short.npz"] => "its zip entry declares 8256";
    pytorch_record_ratio_lie: ["pytorch_record_ratio_lie.pt"] => "record `archive/data/0`: declares 4294967040 bytes";
    pytorch_nested_zip: ["pytorch_nested_zip.pt"] => "member `archive/data.pkl` is itself a zip archive";
    zip_truncated: ["zip_truncated.pt"] => "zip archive `zip_truncated.pt`: invalid Zip archive";
    gguf_truncated: ["gguf_truncated.gguf"] => "tensor `norm_three`: shape [64] of F32 needs 256 bytes at offset";
    gguf_version_1: ["gguf_version_1.gguf"] => "GGUF version 1 (32-bit counts, 2023) is not supported";
    gguf_tensor_count_absurd: ["gguf_tensor_count_absurd.gguf"] => "header claims 1152921504606846976 tensors";
    gguf_string_length_absurd: ["gguf_string_length_absurd.gguf"] => "metadata key: string length 1099511627776 at offset 75 is more than the 781 bytes left";
    gguf_array_count_absurd: ["gguf_array_count_absurd.gguf"] => "metadata `tokenizer.tokens`: array of 1125899906842624 string values cannot fit";
    gguf_unknown_type: ["gguf_unknown_type.gguf"] => "tensor `tensor_one`: unsupported dtype ggml type id 99, which ggml does not define";
    gguf_unsupported_type: ["gguf_unsupported_type.gguf"] => "ggml type IQ2_XXS (id 16), which quantscope cannot decode yet";
    gguf_offset_past_end: ["gguf_offset_past_end.gguf"] => "tensor `tensor_two`: shape [2, 64] of Q8_0 needs 136 bytes at offset";
    gguf_overlapping: ["gguf_overlapping.gguf"] => "tensors `tensor_one` and `tensor_two` overlap";
    gguf_misaligned_offset: ["gguf_misaligned_offset.gguf"] => "tensor `tensor_two`: data offset 4 is not a multiple of the alignment 32";
    gguf_shape_overflow: ["gguf_shape_overflow.gguf"] => "has more than 2^64 elements";
    gguf_row_not_blocks: ["gguf_row_not_blocks.gguf"] => "tensor `tensor_one`: rows of 48 values do not split into Q8_0 blocks of 32";
    gguf_too_many_dims: ["gguf_too_many_dims.gguf"] => "tensor `tensor_one`: 7 dimensions (ggml tensors have at most 4)";
    gguf_bad_alignment: ["gguf_bad_alignment.gguf"] => "general.alignment must be a uint32 power of two, got uint32 3";
    gguf_deep_arrays: ["gguf_deep_arrays.gguf"] => "metadata `deep`: arrays nested more than 4 deep";
    empty_file: ["empty.bin"] => "empty file";
    pickle_os_system: ["pickle_os_system.pt"] => "pickle wants to call `posix.system`";
    pickle_stack_global: ["pickle_stack_global.pt"] => "pickle wants to call `posix.system`";
    pickle_legacy_eval: ["pickle_legacy_eval.pt"] => "pickle wants to call `__builtin__.eval`";
    pytorch_missing_storage: ["pytorch_missing_storage.pt"] => "storage `0` is missing";
    pytorch_truncated_pickle: ["pytorch_truncated_pickle.pt"] => "truncated";
    pytorch_storage_out_of_range: ["pytorch_storage_out_of_range.pt"] => "storage `0` holds 24 bytes";
    pytorch_shape_overflow: ["pytorch_shape_overflow.pt"] => "more than 2^64";
    pytorch_negative_size: ["pytorch_negative_size.pt"] => "tensor size is negative (-1)";
    pytorch_legacy_storage_too_long: ["pytorch_legacy_storage_too_long.pt"] => "storage `0` says it holds 2305843009213693952 elements";
    onnx_raw_data_short: ["onnx_raw_data_short.onnx"] => "raw_data holds 12 bytes, dims [4, 4] of FLOAT need 64";
    onnx_typed_count: ["onnx_typed_count.onnx"] => "float_data holds 2 values";
    onnx_negative_dim: ["onnx_negative_dim.onnx"] => "negative dimension -2";
    onnx_shape_overflow: ["onnx_shape_overflow.onnx"] => "needs more than 2^64 bytes";
    onnx_unknown_data_type: ["onnx_unknown_data_type.onnx"] => "unknown data_type 99";
    onnx_truncated: ["onnx_truncated.onnx"] => "not a valid ModelProto";
    onnx_external_missing: ["onnx_external_outside.onnx"] => "external file `weights.bin`, which was not given";
    onnx_external_outside: ["onnx_external_outside.onnx", "weights.bin"] => "external data [8, 8+16) lies outside `weights.bin` (16 bytes)";
    onnx_external_traversal: ["onnx_external_traversal.onnx", "weights.bin"] => "external file `../../etc/passwd`, which was not given";
    tflite_buffer_index: ["tflite_buffer_index.tflite"] => "buffer index 99 is out of range (the model has 2 buffers)";
    tflite_truncated: ["tflite_truncated.tflite"] => "TFLite";
    tflite_shape_larger_than_buffer: ["tflite_shape_larger_than_buffer.tflite"] => "shape [4, 3] needs 48 bytes";
    tflite_scales_mismatch: ["tflite_scales_mismatch.tflite"] => "2 scales along dimension 0, which has 3 entries";
    tflite_quantized_dimension: ["tflite_quantized_dimension.tflite"] => "quantized_dimension 5 is out of range";
}

// Found by `scripts/fuzz.sh 60 npy`: the header parser took minutes on nested brackets.
broken! {
    npy_deep_nesting: ["npy_deep_nesting.npy"] => "header nests brackets 60 deep";
}

/// Inputs the fuzzers found (tests/fixtures/broken/fuzz/, kept as libFuzzer wrote them;
/// docs/FUZZING.md says what each found): whatever they open as, or fail with, no
/// allocation may exceed what the file justifies, eagerly or lazily.
#[test]
fn fuzz_found_inputs_allocate_what_the_file_justifies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken/fuzz");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        LARGEST.with(|m| m.set(0));
        let eager = quantscope::formats::open_many(&[(name.as_str(), bytes.as_slice())]);
        let eager_largest = LARGEST.with(Cell::get);
        LARGEST.with(|m| m.set(0));
        let lazy = std::panic::catch_unwind(|| lazily_any(&name, &bytes)).is_ok();
        let lazy_largest = LARGEST.with(Cell::get);
        assert!(lazy, "{name}: the lazy path panicked");
        let bound = (4 * bytes.len()).max(1 << 20);
        assert!(
            eager_largest.max(lazy_largest) <= bound,
            "{name} ({:?}): allocated {} bytes at once for a {}-byte input",
            eager.map(|m| m.tensors.len()),
            eager_largest.max(lazy_largest),
            bytes.len()
        );
        seen += 1;
    }
    assert!(
        seen >= 5,
        "only {seen} fuzz-found inputs in {}",
        dir.display()
    );
}

/// Opens `bytes` through ModelFile and reads every tensor, whatever happens.
fn lazily_any(name: &str, bytes: &[u8]) {
    use quantscope::formats::source::{ByteSource, InMemory};
    use quantscope::formats::ModelFile;
    use quantscope::TensorStore;
    let src: Box<dyn ByteSource> = Box::new(InMemory(bytes.to_vec()));
    if let Ok(m) = ModelFile::open(vec![(name.to_string(), src)]) {
        for t in m.info().tensors {
            let _ = m.load(&t.name);
        }
    }
}
