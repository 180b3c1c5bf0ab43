//! Opening large model files (issue 5), natively: `cargo bench --bench open`.
//! Times listing the tensors (memory-map + header) and reading every tensor (decoding
//! it to f32, one at a time, as `quantize` does) of a ~500 MB safetensors file (F16) and
//! a ~500 MB GGUF file (Q8_0), median of RUNS; in the same run, the formats' own Python
//! readers (scripts/bench/gen_large_model.py --peer). The files are made by
//! scripts/bench/gen_large_model.py into target/bench-models/ on first use.
//! Plain timing loop, not a test. The first run reads the file from disk; later ones
//! from the page cache (the medians are warm-cache figures).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use quantscope::formats::source::{ByteSource, InMemory};
use quantscope::formats::ModelFile;
use quantscope::TensorStore;

const RUNS: usize = 5;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files() -> Vec<PathBuf> {
    let out = Command::new(root().join(".venv/bin/python"))
        .arg(root().join("scripts/bench/gen_large_model.py"))
        .arg(root().join("target/bench-models"))
        .output()
        .expect("run .venv/bin/python (bash scripts/setup-python.sh makes it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| root().join(f.as_str().unwrap()))
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    println!("| file | size | tensors | list (ms) | read all (ms) | read GB/s | Python peer list / read (ms) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for path in files() {
        let (mut list, mut read) = (Vec::new(), Vec::new());
        let size = std::fs::metadata(&path).unwrap().len();
        let mut count = 0;
        for _ in 0..RUNS {
            let t0 = Instant::now();
            let file = std::fs::File::open(&path).unwrap();
            // SAFETY: read-only map of a file this benchmark wrote and nobody changes.
            let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
            let src: Box<dyn ByteSource> = Box::new(InMemory(map));
            let model = ModelFile::open(vec![(path.display().to_string(), src)]).unwrap();
            let names: Vec<String> = model.info().tensors.into_iter().map(|t| t.name).collect();
            list.push(t0.elapsed().as_secs_f64() * 1e3);
            let t1 = Instant::now();
            let mut values = 0usize;
            for n in &names {
                values += model.load(n).unwrap().data.len();
            }
            read.push(t1.elapsed().as_secs_f64() * 1e3);
            assert!(values > 0);
            count = names.len();
        }
        let peer = Command::new(root().join(".venv/bin/python"))
            .arg(root().join("scripts/bench/gen_large_model.py"))
            .arg("--peer")
            .arg(&path)
            .output()
            .unwrap();
        let peer: serde_json::Value = serde_json::from_slice(&peer.stdout).unwrap();
        let (l, r) = (median(list), median(read));
        println!(
            "| {} | {:.0} MB | {count} | {l:.2} | {r:.0} | {:.2} | {:.2} / {:.0} |",
            path.file_name().unwrap().to_string_lossy(),
            size as f64 / 1e6,
            size as f64 / 1e9 / (r / 1e3),
            peer["list_ms"].as_f64().unwrap(),
            peer["read_ms"].as_f64().unwrap()
        );
    }
}
