//! xorshift64*: the seeded source of test inputs every kernel test shares (no OS
//! randomness on wasm32). Included with `#[path = "support/rng.rs"] mod rng;`.
#![allow(dead_code)] // each test binary uses its own subset

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1), 24 bits.
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [-1, 1).
    pub fn f(&mut self) -> f32 {
        self.unit() * 2.0 - 1.0
    }

    /// Uniform integer in [lo, hi].
    pub fn int(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() % (hi - lo + 1) as u64) as i32
    }

    /// Sum of three uniforms, centred: bell-shaped in (-1.5, 1.5) * scale.
    pub fn normalish(&mut self, scale: f32) -> f32 {
        (self.unit() + self.unit() + self.unit() - 1.5) * scale
    }
}
