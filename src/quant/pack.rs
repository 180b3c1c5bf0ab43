//! Integer codes packed at their real bit width, and back.
//!
//! Layout (every width, 2 to 8 and 16): one little-endian bit stream over the codes in
//! C order. Code `i` occupies stream bits `[i*b, (i+1)*b)`, and stream bit `k` is bit
//! `k % 8` (least significant first) of byte `k / 8`; the last byte is padded with zero
//! bits. Signed codes are stored as their low `b` bits in two's complement, unsigned codes
//! as they are. Consequences, width by width:
//! - 8 bits: one byte per code (`int8` bytes are the i8 values, `uint8` the u8 values);
//! - 16 bits: two bytes per code, little-endian;
//! - 4 bits: two codes per byte, the first in the low nibble — ONNX's INT4/UINT4 tensor
//!   packing and the nibble order of ONNX Runtime's MatMulNBits;
//! - 2 bits: four codes per byte, the first in bits 0-1;
//! - 3, 5, 6, 7 bits: codes straddle byte boundaries (code 1 of a 3-bit stream is bits
//!   3-5 of byte 0; code 2 is bits 6-7 of byte 0 and bit 0 of byte 1).
//!
//! Written by hand: no maintained crate packs arbitrary widths in this exact order, and
//! the order is the product's documented format.

/// Bytes needed for `n` codes of `bits` bits.
pub fn packed_len(n: usize, bits: u8) -> usize {
    (n as u128 * bits as u128).div_ceil(8) as usize
}

/// Packs codes (each already inside the `bits`-bit range, signed or unsigned).
pub fn pack(codes: &[i32], bits: u8) -> Vec<u8> {
    let mut out = vec![0u8; packed_len(codes.len(), bits)];
    match bits {
        8 => {
            for (o, &c) in out.iter_mut().zip(codes) {
                *o = c as u8;
            }
        }
        16 => {
            for (o, &c) in out.chunks_exact_mut(2).zip(codes) {
                o.copy_from_slice(&(c as u16).to_le_bytes());
            }
        }
        _ => pack_stream(codes.iter().map(|&c| c as u32), bits, &mut out),
    }
    out
}

/// Packs i8 codes stored `offset` below their real value (see `linear`: uint8 codes are
/// kept as `code - 128` so that they fit an i8 kernel).
pub fn pack_i8(work: &[i8], bits: u8, offset: i32) -> Vec<u8> {
    let mut out = vec![0u8; packed_len(work.len(), bits)];
    if bits == 8 {
        // Adding 128 to an i8 and keeping the low byte flips the top bit.
        let flip = if offset == 128 { 0x80 } else { 0 };
        for (o, &c) in out.iter_mut().zip(work) {
            *o = (c as u8) ^ flip;
        }
    } else if bits == 4 {
        // Two codes per byte, low nibble first: what pack_stream writes at 4 bits, in a
        // loop LLVM vectorises. With it (and the row-pipelined scan of that day),
        // int4-asym-ch0 on 4096 x 4096 in wasm went from 62-93 ms to 21-23 ms
        // (docs/BENCHMARKS.md, "Quantize throughput", 2026-12-02).
        let nib = |c: i8| ((c as i32 + offset) as u8) & 0x0f;
        let mut pairs = work.chunks_exact(2);
        for (o, p) in out.iter_mut().zip(pairs.by_ref()) {
            *o = nib(p[0]) | (nib(p[1]) << 4);
        }
        if let [last] = pairs.remainder() {
            out[work.len() / 2] = nib(*last);
        }
    } else {
        pack_stream(
            work.iter().map(|&c| (c as i32 + offset) as u32),
            bits,
            &mut out,
        );
    }
    out
}

fn pack_stream(codes: impl Iterator<Item = u32>, bits: u8, out: &mut [u8]) {
    let mask = (1u64 << bits) - 1;
    let (mut acc, mut fill, mut at) = (0u64, 0u32, 0usize);
    for c in codes {
        acc |= (c as u64 & mask) << fill;
        fill += bits as u32;
        while fill >= 8 {
            out[at] = acc as u8;
            at += 1;
            acc >>= 8;
            fill -= 8;
        }
    }
    if fill > 0 {
        out[at] = acc as u8;
    }
}

/// Unpacks `n` codes of `bits` bits; signed codes are sign-extended.
pub fn unpack(bytes: &[u8], bits: u8, signed: bool, n: usize) -> Vec<i32> {
    let mut out = Vec::with_capacity(n);
    let shift = 32 - bits as u32;
    let extend = |v: u32| -> i32 {
        if signed {
            ((v << shift) as i32) >> shift
        } else {
            v as i32
        }
    };
    match bits {
        8 => out.extend(bytes.iter().take(n).map(|&b| extend(b as u32))),
        16 => out.extend(
            bytes
                .chunks_exact(2)
                .take(n)
                .map(|c| extend(u16::from_le_bytes([c[0], c[1]]) as u32)),
        ),
        _ => {
            let mask = (1u64 << bits) - 1;
            let (mut acc, mut fill) = (0u64, 0u32);
            let mut src = bytes.iter();
            for _ in 0..n {
                while fill < bits as u32 {
                    acc |= (*src.next().unwrap_or(&0) as u64) << fill;
                    fill += 8;
                }
                out.push(extend((acc & mask) as u32));
                acc >>= bits;
                fill -= bits as u32;
            }
        }
    }
    out
}

/// Unpacks codes of at most 8 bits into i8 values stored `offset` below their real value
/// (the inverse of [`pack_i8`]); the form the dequantization kernels take.
pub fn unpack_i8(bytes: &[u8], bits: u8, signed: bool, offset: i32, n: usize) -> Vec<i8> {
    if bits == 8 {
        let flip = if offset == 128 { 0x80 } else { 0 };
        return bytes.iter().take(n).map(|&b| (b ^ flip) as i8).collect();
    }
    unpack(bytes, bits, signed, n)
        .into_iter()
        .map(|c| (c - offset) as i8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_bit_is_low_nibble_first() {
        assert_eq!(pack(&[1, 2, 3], 4), vec![0x21, 0x03]);
        assert_eq!(pack(&[-1, -8], 4), vec![0x8F]);
        assert_eq!(unpack(&[0x8F], 4, true, 2), vec![-1, -8]);
        assert_eq!(unpack(&[0x8F], 4, false, 2), vec![15, 8]);
    }

    #[test]
    fn pack_i8_equals_the_bit_stream_at_every_width() {
        // The i8 work buffer (codes stored `offset` below their value) packs to what
        // `pack` writes from the codes themselves, including the 4-bit fast path's odd
        // tail. Signed codes have offset 0; unsigned ones are stored 2^(bits-1) below.
        let mut s = 7u32;
        for bits in 2..=8u8 {
            for signed in [true, false] {
                let offset = if signed { 0 } else { 1 << (bits - 1) };
                for n in 0..40 {
                    let work: Vec<i8> = (0..n)
                        .map(|_| {
                            s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                            let span = 1i32 << bits;
                            ((s >> 8) as i32 % span - (span >> 1)) as i8
                        })
                        .collect();
                    let codes: Vec<i32> = work.iter().map(|&c| c as i32 + offset).collect();
                    assert_eq!(
                        pack_i8(&work, bits, offset),
                        pack(&codes, bits),
                        "{bits} bits, signed {signed}, n = {n}"
                    );
                }
            }
        }
    }

    #[test]
    #[allow(clippy::unusual_byte_groupings)] // grouped by code, not by nibble
    fn three_bit_straddles_bytes() {
        // codes 1..=5 at 3 bits: 001 010 011 100 101, LSB first.
        let b = pack(&[1, 2, 3, 4, 5], 3);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0], 0b11_010_001);
        assert_eq!(b[1], 0b0_101_100_0);
        assert_eq!(unpack(&b, 3, false, 5), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn sixteen_bit_is_little_endian() {
        assert_eq!(pack(&[-2, 0x1234], 16), vec![0xFE, 0xFF, 0x34, 0x12]);
        assert_eq!(unpack(&[0xFE, 0xFF], 16, true, 1), vec![-2]);
        assert_eq!(unpack(&[0xFE, 0xFF], 16, false, 1), vec![65534]);
    }

    #[test]
    fn i8_forms_round_trip() {
        let w: Vec<i8> = vec![-128, -1, 0, 127];
        let b = pack_i8(&w, 8, 128);
        assert_eq!(b, vec![0, 127, 128, 255]);
        assert_eq!(unpack_i8(&b, 8, false, 128, 4), w);
        let w4: Vec<i8> = vec![-8, 7, 0];
        assert_eq!(unpack_i8(&pack_i8(&w4, 4, 0), 4, true, 0, 3), w4);
    }
}
