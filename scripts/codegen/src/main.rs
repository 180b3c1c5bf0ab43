//! Writes src/formats/generated/onnx.rs from the committed onnx.proto (see Cargo.toml).

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schema = root.join("src/formats/schema");
    let out = root.join("src/formats/generated");
    let fds = protox::compile([schema.join("onnx.proto")], [&schema]).expect("onnx.proto");
    prost_build::Config::new()
        .out_dir(&out)
        .compile_fds(fds)
        .expect("prost-build");
    println!("wrote {}", out.join("onnx.rs").display());
}
