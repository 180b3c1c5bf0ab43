//! Facts fixed when the crate was compiled, for the page to show and the tests to check
//! which kernels ran.

use serde::Serialize;

use crate::kernels;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct BuildInfo {
    pub version: String,
    /// True only in a build whose kernels are the SIMD128 twins.
    pub simd128: bool,
    pub relaxed_simd: bool,
    /// "simd128+relaxed", "simd128" or "scalar".
    pub kernels: String,
    /// True in the benchmark build (the `bench-hooks` feature), which exports the kernel
    /// entry points.
    pub bench_hooks: bool,
}

/// This build's facts.
pub fn info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        simd128: kernels::SIMD128,
        relaxed_simd: kernels::RELAXED_SIMD,
        kernels: kernels::KERNELS.into(),
        bench_hooks: cfg!(feature = "bench-hooks"),
    }
}
