//! Element-type conversions of the readers, scalar reference: IEEE half (F16) to f32
//! through the `half` crate (its slice conversion uses F16C where the CPU has it).

use half::f16;
use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};

/// Little-endian halves in `raw` (2 bytes each) to `out` (one f32 each).
pub fn f16_to_f32(raw: &[u8], out: &mut [f32]) {
    // Bytes are gathered into aligned u16 chunks first: file offsets need not be
    // aligned, and the slice conversion wants &[f16].
    const CHUNK: usize = 2048;
    let mut bits = [0u16; CHUNK];
    for (src, dst) in raw.chunks(2 * CHUNK).zip(out.chunks_mut(CHUNK)) {
        let bits = &mut bits[..dst.len()];
        for (b, pair) in bits.iter_mut().zip(src.chunks_exact(2)) {
            *b = u16::from_le_bytes([pair[0], pair[1]]);
        }
        bits.reinterpret_cast::<f16>().convert_to_f32_slice(dst);
    }
}
