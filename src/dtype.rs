//! Element types as files store them: [`DType`] and the ggml block types
//! ([`GgmlType`]): names, ids and sizes, nothing that computes with values. The bottom
//! of the crate: it imports only the error type. Decoding stored bytes of a type is
//! `formats::decode`; quantizing to a ggml type is `quant::ggml`.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, Result};

/// Values per super-block of the k-quant types (ggml's QK_K).
pub const QK_K: usize = 256;

/// The element type a tensor had in its file, before it was decoded to f32.
/// Serialized by its [`DType::name`] ("F32", "F8_E4M3", "Q4_K").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U64,
    U32,
    U16,
    U8,
    Bool,
    /// 8-bit float, 4 exponent bits, 3 mantissa bits, no infinities (OCP "E4M3FN").
    F8E4M3,
    /// 8-bit float, 5 exponent bits, 2 mantissa bits (OCP "E5M2").
    F8E5M2,
    /// A ggml block format (GGUF files): values come in blocks with their own scales,
    /// so a tensor's size is [`DType::bytes_for`], not a per-element size.
    Ggml(GgmlType),
}

impl Serialize for DType {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl DType {
    /// Bytes per element as stored in the source file. For a ggml block format this is
    /// the size of a whole block: use [`DType::bytes_for`] for a tensor's size.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 | DType::U64 => 8,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 2,
            DType::I8 | DType::U8 | DType::Bool | DType::F8E4M3 | DType::F8E5M2 => 1,
            DType::Ggml(t) => t.type_size(),
        }
    }

    /// Bytes that `numel` values of this type take in the file (whole blocks for the
    /// ggml formats, rounded up).
    pub fn bytes_for(self, numel: usize) -> usize {
        match self {
            DType::Ggml(t) => numel.div_ceil(t.block_size()) * t.type_size(),
            plain => numel * plain.size(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "F64",
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::I64 => "I64",
            DType::I32 => "I32",
            DType::I16 => "I16",
            DType::I8 => "I8",
            DType::U64 => "U64",
            DType::U32 => "U32",
            DType::U16 => "U16",
            DType::U8 => "U8",
            DType::Bool => "BOOL",
            DType::F8E4M3 => "F8_E4M3",
            DType::F8E5M2 => "F8_E5M2",
            DType::Ggml(t) => t.upper_name(),
        }
    }

    pub fn is_float(self) -> bool {
        matches!(
            self,
            DType::F64 | DType::F32 | DType::F16 | DType::BF16 | DType::F8E4M3 | DType::F8E5M2
        )
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A ggml tensor type. The discriminants are ggml's own type ids (`enum ggml_type`,
/// the numbers GGUF files store).
/// Variant names are ggml's (`Q4_K`), so code reads like the format's documentation.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    BF16 = 30,
}

impl GgmlType {
    pub const ALL: [GgmlType; 13] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
        GgmlType::BF16,
    ];

    /// The types quantscope can quantize to (the `q…` scheme names).
    pub const QUANTIZABLE: [GgmlType; 7] = [
        GgmlType::Q8_0,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q4_K,
        GgmlType::Q6_K,
    ];

    /// The type with ggml's id `id`, if quantscope knows it.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        Self::ALL.into_iter().find(|t| *t as u32 == id)
    }

    /// The type named `name` (`q4_0`, `Q4_K`, `bf16`; any case).
    pub fn from_name(name: &str) -> Option<GgmlType> {
        let lower = name.to_ascii_lowercase();
        Self::ALL.into_iter().find(|t| t.name() == lower)
    }

    /// ggml's id of this type.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// Lower-case name, as in scheme strings (`q4_k`).
    pub fn name(self) -> &'static str {
        match self {
            GgmlType::F32 => "f32",
            GgmlType::F16 => "f16",
            GgmlType::Q4_0 => "q4_0",
            GgmlType::Q4_1 => "q4_1",
            GgmlType::Q5_0 => "q5_0",
            GgmlType::Q5_1 => "q5_1",
            GgmlType::Q8_0 => "q8_0",
            GgmlType::Q2_K => "q2_k",
            GgmlType::Q3_K => "q3_k",
            GgmlType::Q4_K => "q4_k",
            GgmlType::Q5_K => "q5_k",
            GgmlType::Q6_K => "q6_k",
            GgmlType::BF16 => "bf16",
        }
    }

    /// Upper-case name, as ggml and GGUF tools print it (`Q4_K`).
    pub fn upper_name(self) -> &'static str {
        match self {
            GgmlType::F32 => "F32",
            GgmlType::F16 => "F16",
            GgmlType::Q4_0 => "Q4_0",
            GgmlType::Q4_1 => "Q4_1",
            GgmlType::Q5_0 => "Q5_0",
            GgmlType::Q5_1 => "Q5_1",
            GgmlType::Q8_0 => "Q8_0",
            GgmlType::Q2_K => "Q2_K",
            GgmlType::Q3_K => "Q3_K",
            GgmlType::Q4_K => "Q4_K",
            GgmlType::Q5_K => "Q5_K",
            GgmlType::Q6_K => "Q6_K",
            GgmlType::BF16 => "BF16",
        }
    }

    /// Values per block (1 for the plain float types).
    pub fn block_size(self) -> usize {
        match self {
            GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => 1,
            GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q5_0 | GgmlType::Q5_1 | GgmlType::Q8_0 => {
                32
            }
            _ => QK_K,
        }
    }

    /// Bytes per block (ggml's `type_size`).
    pub fn type_size(self) -> usize {
        match self {
            GgmlType::F32 => 4,
            GgmlType::F16 | GgmlType::BF16 => 2,
            GgmlType::Q4_0 => 18,
            GgmlType::Q4_1 => 20,
            GgmlType::Q5_0 => 22,
            GgmlType::Q5_1 => 24,
            GgmlType::Q8_0 => 34,
            GgmlType::Q2_K => 84,
            GgmlType::Q3_K => 110,
            GgmlType::Q4_K => 144,
            GgmlType::Q5_K => 176,
            GgmlType::Q6_K => 210,
        }
    }

    /// Bytes that `n` values take, or an error when `n` is not a whole number of blocks.
    pub fn bytes_for(self, n: usize) -> Result<usize> {
        let block = self.block_size();
        if n % block != 0 {
            return Err(Error::GgmlLength {
                ty: self.name(),
                n,
                block,
            });
        }
        (n / block)
            .checked_mul(self.type_size())
            .ok_or(Error::GgmlLength {
                ty: self.name(),
                n,
                block,
            })
    }

    /// Nominal code width in bits (before scales).
    pub fn code_bits(self) -> u8 {
        match self {
            GgmlType::F32 => 32,
            GgmlType::F16 | GgmlType::BF16 => 16,
            GgmlType::Q8_0 => 8,
            GgmlType::Q6_K => 6,
            GgmlType::Q5_0 | GgmlType::Q5_1 | GgmlType::Q5_K => 5,
            GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q4_K => 4,
            GgmlType::Q3_K => 3,
            GgmlType::Q2_K => 2,
        }
    }

    /// The names of [`GgmlType::QUANTIZABLE`], comma-separated, for messages.
    pub fn quantizable_names() -> String {
        Self::QUANTIZABLE.map(GgmlType::name).join(", ")
    }

    pub(crate) fn can_quantize(self) -> bool {
        Self::QUANTIZABLE.contains(&self)
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
