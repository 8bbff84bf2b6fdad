//! Element types of tensors.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The element type of a tensor.
///
/// The set mirrors what model formats store (including the 4-bit and 8-bit float types); the
/// frontend maps its own codes onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    Float32,
    Uint8,
    Int8,
    Uint16,
    Int16,
    Int32,
    Int64,
    String,
    Bool,
    Float16,
    Float64,
    Uint32,
    Uint64,
    Complex64,
    Complex128,
    Bfloat16,
    Float8e4m3fn,
    Float8e4m3fnuz,
    Float8e5m2,
    Float8e5m2fnuz,
    Uint4,
    Int4,
    Float4e2m1,
    Float8e8m0,
    Uint2,
    Int2,
}

impl DType {
    /// The type with this code in the numbering model files use for element types (ONNX's
    /// `TensorProto.DataType`: 1 = float32, 7 = int64, ...), as attributes such as `Cast.to`
    /// carry it.
    pub fn from_code(code: i32) -> Option<DType> {
        use DType::*;
        Some(match code {
            1 => Float32,
            2 => Uint8,
            3 => Int8,
            4 => Uint16,
            5 => Int16,
            6 => Int32,
            7 => Int64,
            8 => String,
            9 => Bool,
            10 => Float16,
            11 => Float64,
            12 => Uint32,
            13 => Uint64,
            14 => Complex64,
            15 => Complex128,
            16 => Bfloat16,
            17 => Float8e4m3fn,
            18 => Float8e4m3fnuz,
            19 => Float8e5m2,
            20 => Float8e5m2fnuz,
            21 => Uint4,
            22 => Int4,
            23 => Float4e2m1,
            24 => Float8e8m0,
            25 => Uint2,
            26 => Int2,
            _ => return None,
        })
    }

    /// The standard code of this type (the inverse of [`DType::from_code`]).
    pub fn code(self) -> i32 {
        (1..=26)
            .find(|&c| DType::from_code(c) == Some(self))
            .unwrap_or(0)
    }

    /// Storage size of one element in bits; `None` for strings (variable size).
    pub fn bits(self) -> Option<u32> {
        use DType::*;
        Some(match self {
            Uint2 | Int2 => 2,
            Uint4 | Int4 | Float4e2m1 => 4,
            Bool | Uint8 | Int8 | Float8e4m3fn | Float8e4m3fnuz | Float8e5m2 | Float8e5m2fnuz
            | Float8e8m0 => 8,
            Uint16 | Int16 | Float16 | Bfloat16 => 16,
            Float32 | Int32 | Uint32 => 32,
            Float64 | Int64 | Uint64 | Complex64 => 64,
            Complex128 => 128,
            String => return None,
        })
    }

    /// Floating-point types (including complex): the ones whose constants are weights.
    pub fn is_float(self) -> bool {
        use DType::*;
        matches!(
            self,
            Float32
                | Float16
                | Float64
                | Bfloat16
                | Complex64
                | Complex128
                | Float8e4m3fn
                | Float8e4m3fnuz
                | Float8e5m2
                | Float8e5m2fnuz
                | Float4e2m1
                | Float8e8m0
        )
    }

    /// Integer types, bool included (shape, index and quantized tensors).
    pub fn is_integer(self) -> bool {
        use DType::*;
        matches!(
            self,
            Uint8
                | Int8
                | Uint16
                | Int16
                | Int32
                | Int64
                | Uint32
                | Uint64
                | Uint4
                | Int4
                | Bool
                | Uint2
                | Int2
        )
    }

    /// The type whose [`DType::name`] this is.
    pub fn from_name(name: &str) -> Option<DType> {
        (0..64)
            .filter_map(DType::from_code)
            .find(|d| d.name() == name)
    }

    /// The lower-case name used in reports (`float32`, `int64`, ...).
    pub fn name(self) -> &'static str {
        use DType::*;
        match self {
            Float32 => "float32",
            Uint8 => "uint8",
            Int8 => "int8",
            Uint16 => "uint16",
            Int16 => "int16",
            Int32 => "int32",
            Int64 => "int64",
            String => "string",
            Bool => "bool",
            Float16 => "float16",
            Float64 => "float64",
            Uint32 => "uint32",
            Uint64 => "uint64",
            Complex64 => "complex64",
            Complex128 => "complex128",
            Bfloat16 => "bfloat16",
            Float8e4m3fn => "float8e4m3fn",
            Float8e4m3fnuz => "float8e4m3fnuz",
            Float8e5m2 => "float8e5m2",
            Float8e5m2fnuz => "float8e5m2fnuz",
            Uint4 => "uint4",
            Int4 => "int4",
            Float4e2m1 => "float4e2m1",
            Float8e8m0 => "float8e8m0",
            Uint2 => "uint2",
            Int2 => "int2",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::DType;

    #[test]
    fn names_round_trip() {
        for code in 1..=26 {
            let d = DType::from_code(code).expect("a code ONNX defines");
            assert_eq!(DType::from_name(d.name()), Some(d));
        }
        assert_eq!(DType::from_name("float"), None);
    }

    #[test]
    fn bit_widths() {
        assert_eq!(DType::Float32.bits(), Some(32));
        assert_eq!(DType::Int4.bits(), Some(4));
        assert_eq!(DType::Bool.bits(), Some(8));
        assert_eq!(DType::String.bits(), None);
        assert!(DType::Float16.is_float() && !DType::Float16.is_integer());
        assert!(DType::Int64.is_integer() && !DType::Int64.is_float());
    }

    #[test]
    fn every_code_maps_and_names_are_unique() {
        let all: Vec<DType> = (1..=26)
            .map(|c| DType::from_code(c).expect("code"))
            .collect();
        assert!(DType::from_code(0).is_none() && DType::from_code(27).is_none());
        let mut names: Vec<_> = all.iter().map(|d| d.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 26);
        assert_eq!(DType::from_code(7), Some(DType::Int64));
        for d in all {
            assert_eq!(DType::from_code(d.code()), Some(d));
        }
    }

    #[test]
    fn serde_names_match_display() {
        let json = serde_json::to_string(&DType::Bfloat16).unwrap();
        assert_eq!(json, format!("\"{}\"", DType::Bfloat16));
    }
}
