//! k-means held to scikit-learn: from the same initial centroids, `KMeans(n_init=1,
//! algorithm="lloyd", tol=0)` and quantscope's Lloyd steps (the scalar ones of
//! `kmeans<k>`, the vector ones of `pq<k>x<d>`) end at the same centroids and labels.
//! Fixture: tests/fixtures/schemes/vq_sklearn.npz by scripts/gen_vq_fixtures.py.

use quantscope::quant::vq::{lloyd_from, lloyd_vectors_from};

#[test]
fn lloyd_equals_scikit_learn_kmeans() {
    let rel = "tests/fixtures/schemes/vq_sklearn.npz";
    let bytes = std::fs::read(rel).unwrap();
    let model = quantscope::open(&bytes, rel).unwrap();
    let get = |name: &str| {
        model
            .tensor(name)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .clone()
    };
    let cases: Vec<String> = model
        .tensors
        .iter()
        .filter_map(|t| t.name.strip_suffix(".data").map(str::to_string))
        .collect();
    assert!(cases.len() >= 6, "{cases:?}");
    for case in &cases {
        let data = get(&format!("{case}.data"));
        let init = get(&format!("{case}.init"));
        let iters = get(&format!("{case}.iters")).data[0] as u32;
        let centers = get(&format!("{case}.centers")).data;
        let labels: Vec<usize> = get(&format!("{case}.labels"))
            .data
            .iter()
            .map(|&l| l as usize)
            .collect();
        let d = data.shape[1];
        let (got, got_labels) = if d == 1 {
            lloyd_from(&data.data, &init.data, iters)
        } else {
            lloyd_vectors_from(&data.data, d, &init.data, iters)
        };
        assert_eq!(got.len(), centers.len(), "{case}");
        for (i, (g, w)) in got.iter().zip(&centers).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1e-3),
                "{case}: centroid value {i}: {g} vs scikit-learn's {w}"
            );
        }
        let differ = got_labels
            .iter()
            .zip(&labels)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differ, 0,
            "{case}: {differ} labels differ from scikit-learn's"
        );
    }
}
