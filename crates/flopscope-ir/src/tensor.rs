//! Tensor types, constant tensors as stored in a model (never decoded unless asked), and small
//! decoded tensor values used to fold shape computations.

use std::fmt;

use bytes::Bytes;

use crate::{DType, Dim};

/// The type of a tensor value: element type and a shape of symbolic dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Vec<Dim>,
}

impl TensorType {
    pub fn new(dtype: DType, shape: Vec<Dim>) -> Self {
        TensorType { dtype, shape }
    }

    pub fn scalar(dtype: DType) -> Self {
        TensorType {
            dtype,
            shape: Vec::new(),
        }
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements (product of the dims; poisoned on overflow).
    pub fn numel(&self) -> Dim {
        self.shape.iter().product()
    }

    /// Bytes needed to hold the tensor in its dtype (sub-byte types packed, rounded up);
    /// zero for strings, whose size the type does not tell.
    pub fn bytes(&self) -> Dim {
        match self.dtype.bits() {
            Some(8) => self.numel(),
            Some(bits) if bits % 8 == 0 => self.numel() * i64::from(bits / 8),
            Some(bits) => (self.numel() * i64::from(bits))
                .ceil_div(8)
                .unwrap_or_else(|_| Dim::overflow()),
            None => Dim::zero(),
        }
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, ShapeDisplay(&self.shape))
    }
}

/// The type of a value: a tensor, or a sequence or optional of values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueType {
    Tensor(TensorType),
    Sequence(SequenceType),
    Optional(Box<ValueType>),
}

/// What is known of a sequence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SequenceType {
    /// Its length and the type of each element (an empty list: the empty sequence).
    Items(Vec<ValueType>),
    /// Only the type its elements share; `None` when not even that is known.
    Elements(Option<Box<ValueType>>),
}

impl SequenceType {
    /// A sequence of unknown length whose elements have type `elem`.
    pub fn of(elem: ValueType) -> SequenceType {
        SequenceType::Elements(Some(Box::new(elem)))
    }
}

impl ValueType {
    /// The tensor type, if this is a tensor.
    pub fn as_tensor(&self) -> Option<&TensorType> {
        match self {
            ValueType::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ValueType::Tensor(_) => "a tensor",
            ValueType::Sequence(_) => "a sequence",
            ValueType::Optional(_) => "an optional",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueType::Tensor(t) => write!(f, "{t}"),
            ValueType::Sequence(SequenceType::Elements(Some(t))) => write!(f, "seq({t})"),
            ValueType::Sequence(SequenceType::Elements(None)) => write!(f, "seq(?)"),
            ValueType::Sequence(SequenceType::Items(items)) => {
                f.write_str("seq[")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("]")
            }
            ValueType::Optional(t) => write!(f, "optional({t})"),
        }
    }
}

/// Displays a shape as `[batch, 3, 224, 224]`.
#[derive(Debug, Clone, Copy)]
pub struct ShapeDisplay<'a>(pub &'a [Dim]);

impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// How the elements of a stored constant are encoded. The bytes are shared with the mapped
/// model file: holding a `Storage` never copies weight data.
#[derive(Clone)]
pub enum Storage {
    /// Elements packed little-endian in their own width (sub-byte types packed low nibble
    /// first).
    LittleEndian(Bytes),
    /// One LEB128 varint per element (two's complement for signed types, bit patterns for
    /// 16-bit floats).
    Varint(Bytes),
    /// One byte string per element.
    Strings(Vec<Bytes>),
    /// Elements live in another file that flopscope never opens: `length` bytes (all of the
    /// tensor when absent) from `offset` in `location`, relative to the model's folder.
    External {
        location: String,
        offset: u64,
        length: Option<u64>,
    },
    /// A sparse tensor: only its non-zero entries are stored; never decoded.
    Sparse,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Storage::LittleEndian(b) => write!(f, "LittleEndian({} bytes)", b.len()),
            Storage::Varint(b) => write!(f, "Varint({} bytes)", b.len()),
            Storage::Strings(s) => write!(f, "Strings({})", s.len()),
            Storage::External {
                location,
                offset,
                length,
            } => write!(f, "External({location:?} @ {offset}, {length:?})"),
            Storage::Sparse => f.write_str("Sparse"),
        }
    }
}

/// A constant tensor as the model stores it: concrete dims, dtype, and undecoded storage.
#[derive(Debug, Clone)]
pub struct ConstTensor {
    pub dtype: DType,
    pub dims: Vec<u64>,
    pub storage: Storage,
}

/// A stored value of any type: what a serialized input (a `.pb` file) holds.
#[derive(Debug, Clone)]
pub enum ConstValue {
    Tensor(ConstTensor),
    Sequence(Vec<ConstValue>),
    /// An optional: `None` is the empty optional.
    Optional(Option<Box<ConstValue>>),
}

/// Why a stored constant could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("holds {found} bytes of data where {dims:?} of {dtype} need {expected}")]
    WrongLength {
        dtype: DType,
        dims: Vec<u64>,
        expected: u64,
        found: u64,
    },
    #[error("holds {found} elements where its dims {dims:?} need {expected}")]
    WrongCount {
        dims: Vec<u64>,
        expected: u64,
        found: u64,
    },
    #[error("has a malformed varint in its data")]
    BadVarint,
    #[error("holds the value {0}, which does not fit a signed 64-bit integer")]
    OutOfRange(u64),
}

impl ConstTensor {
    /// Number of elements, `None` if the product of dims overflows.
    pub fn numel(&self) -> Option<u64> {
        self.dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }

    /// The tensor's type, with constant dims.
    pub fn tensor_type(&self) -> TensorType {
        TensorType {
            dtype: self.dtype,
            shape: self
                .dims
                .iter()
                .map(|&d| i64::try_from(d).map_or_else(|_| Dim::overflow(), Dim::from_i64))
                .collect(),
        }
    }

    /// Decodes the elements when there are at most `max_elems` of them and the dtype is a
    /// number type or strings. `Ok(None)` means "not decoded" (too large, external, sparse, or
    /// a type without a decoder here); only malformed data is an error.
    pub fn decode(&self, max_elems: u64) -> Result<Option<TensorValue>, DecodeError> {
        let Some(count) = self.numel() else {
            return Ok(None);
        };
        if count > max_elems {
            return Ok(None);
        }
        let shape: Vec<usize> = match self.dims.iter().map(|&d| usize::try_from(d)).collect() {
            Ok(s) => s,
            Err(_) => return Ok(None),
        };
        let data = match (&self.storage, ElemKind::of(self.dtype)) {
            (Storage::External { .. } | Storage::Sparse, _) => return Ok(None),
            (Storage::Strings(strings), _) if self.dtype == DType::String => {
                if strings.len() as u64 != count {
                    return Err(DecodeError::WrongCount {
                        dims: self.dims.clone(),
                        expected: count,
                        found: strings.len() as u64,
                    });
                }
                Elements::Str(strings.clone())
            }
            // Strings stored for a number type, or numbers for strings: not decoded here.
            (Storage::Strings(_), _) | (_, None) => return Ok(None),
            (Storage::LittleEndian(bytes), Some(kind)) => decode_le(self, kind, bytes, count)?,
            (Storage::Varint(bytes), Some(kind)) => decode_varints(self, kind, bytes, count)?,
        };
        Ok(Some(TensorValue {
            dtype: self.dtype,
            shape,
            data,
        }))
    }
}

/// The decodable element kinds.
#[derive(Debug, Clone, Copy)]
enum ElemKind {
    Signed(u32),
    Unsigned(u32),
    Bool,
    F16,
    Bf16,
    F32,
    F64,
}

impl ElemKind {
    fn of(dtype: DType) -> Option<ElemKind> {
        use DType::*;
        Some(match dtype {
            Int8 => ElemKind::Signed(1),
            Int16 => ElemKind::Signed(2),
            Int32 => ElemKind::Signed(4),
            Int64 => ElemKind::Signed(8),
            Uint8 => ElemKind::Unsigned(1),
            Uint16 => ElemKind::Unsigned(2),
            Uint32 => ElemKind::Unsigned(4),
            Uint64 => ElemKind::Unsigned(8),
            Bool => ElemKind::Bool,
            Float16 => ElemKind::F16,
            Bfloat16 => ElemKind::Bf16,
            Float32 => ElemKind::F32,
            Float64 => ElemKind::F64,
            _ => return None,
        })
    }

    fn width(self) -> u32 {
        match self {
            ElemKind::Signed(w) | ElemKind::Unsigned(w) => w,
            ElemKind::Bool => 1,
            ElemKind::F16 | ElemKind::Bf16 => 2,
            ElemKind::F32 => 4,
            ElemKind::F64 => 8,
        }
    }
}

fn decode_le(
    tensor: &ConstTensor,
    kind: ElemKind,
    bytes: &[u8],
    count: u64,
) -> Result<Elements, DecodeError> {
    let width = kind.width() as usize;
    let expected = count.saturating_mul(width as u64);
    if bytes.len() as u64 != expected {
        return Err(DecodeError::WrongLength {
            dtype: tensor.dtype,
            dims: tensor.dims.clone(),
            expected,
            found: bytes.len() as u64,
        });
    }
    let words = bytes.chunks_exact(width).map(|c| {
        let mut buf = [0u8; 8];
        buf[..width].copy_from_slice(c);
        u64::from_le_bytes(buf)
    });
    collect_words(kind, words)
}

fn decode_varints(
    tensor: &ConstTensor,
    kind: ElemKind,
    mut bytes: &[u8],
    count: u64,
) -> Result<Elements, DecodeError> {
    let mut words = Vec::new();
    while !bytes.is_empty() {
        let (value, used) = read_varint(bytes).ok_or(DecodeError::BadVarint)?;
        words.push(value);
        bytes = &bytes[used..];
        if words.len() as u64 > count {
            break;
        }
    }
    if words.len() as u64 != count {
        return Err(DecodeError::WrongCount {
            dims: tensor.dims.clone(),
            expected: count,
            found: words.len() as u64,
        });
    }
    // Varints of signed types are sign-extended to 64 bits; of narrower unsigned types and
    // 16-bit floats they hold the bit pattern in the low bits.
    let words = words.into_iter().map(|w| match kind {
        ElemKind::Signed(_) => w,
        ElemKind::Unsigned(width) if width < 8 => w & ((1u64 << (width * 8)) - 1),
        ElemKind::F16 | ElemKind::Bf16 => w & 0xffff,
        _ => w,
    });
    collect_words(kind, words)
}

/// Reads one LEB128 varint; `None` if it is truncated or longer than ten bytes.
fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Turns raw words (little-endian bit patterns, zero-extended to 64 bits) into elements.
fn collect_words(
    kind: ElemKind,
    words: impl Iterator<Item = u64>,
) -> Result<Elements, DecodeError> {
    match kind {
        ElemKind::Signed(width) => {
            let shift = 64 - width * 8;
            // Sign-extend from the element width.
            let ints = words.map(|w| Dim::from_i64(((w << shift) as i64) >> shift));
            Ok(Elements::Int(ints.collect()))
        }
        ElemKind::Unsigned(_) | ElemKind::Bool => words
            .map(|w| {
                i64::try_from(w)
                    .map(Dim::from_i64)
                    .map_err(|_| DecodeError::OutOfRange(w))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Elements::Int),
        ElemKind::F16 => Ok(Elements::Float(
            words.map(|w| f16_to_f64(w as u16)).collect(),
        )),
        ElemKind::Bf16 => Ok(Elements::Float(
            words
                .map(|w| f64::from(f32::from_bits(((w as u32) & 0xffff) << 16)))
                .collect(),
        )),
        ElemKind::F32 => Ok(Elements::Float(
            words.map(|w| f64::from(f32::from_bits(w as u32))).collect(),
        )),
        ElemKind::F64 => Ok(Elements::Float(words.map(f64::from_bits).collect())),
    }
}

/// IEEE 754 half precision to double.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        0x1f if frac == 0.0 => sign * f64::INFINITY,
        0x1f => f64::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

/// The elements of a small tensor value.
#[derive(Debug, Clone, PartialEq)]
pub enum Elements {
    /// Integer and bool elements; symbolic where a shape flows into them (`Shape` of a tensor
    /// whose dims are symbols).
    Int(Vec<Dim>),
    /// Floating-point elements (as f64).
    Float(Vec<f64>),
    /// String elements, each the byte string the model stores (UTF-8 in valid models; kept as
    /// bytes).
    Str(Vec<Bytes>),
}

impl Elements {
    pub fn len(&self) -> usize {
        match self {
            Elements::Int(v) => v.len(),
            Elements::Float(v) => v.len(),
            Elements::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A small tensor whose elements are known at analysis time: a decoded constant, or the
/// folded result of a shape computation.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorValue {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Elements,
}

impl TensorValue {
    /// A tensor of integer elements.
    pub fn ints(dtype: DType, shape: Vec<usize>, values: Vec<Dim>) -> Self {
        TensorValue {
            dtype,
            shape,
            data: Elements::Int(values),
        }
    }

    /// A tensor of string elements (each anything that converts to bytes: `Vec<u8>`, `String`,
    /// `&'static str`, `Bytes`).
    pub fn strings<S: Into<Bytes>>(shape: Vec<usize>, values: impl IntoIterator<Item = S>) -> Self {
        TensorValue {
            dtype: DType::String,
            shape,
            data: Elements::Str(values.into_iter().map(Into::into).collect()),
        }
    }

    /// A 1-D int64 tensor, the usual form of shapes and axes.
    pub fn int64_vector(values: Vec<Dim>) -> Self {
        TensorValue::ints(DType::Int64, vec![values.len()], values)
    }

    pub fn tensor_type(&self) -> TensorType {
        TensorType {
            dtype: self.dtype,
            shape: self
                .shape
                .iter()
                .map(|&d| i64::try_from(d).map_or_else(|_| Dim::overflow(), Dim::from_i64))
                .collect(),
        }
    }

    /// The integer elements, if the tensor holds integers.
    pub fn as_ints(&self) -> Option<&[Dim]> {
        match &self.data {
            Elements::Int(v) => Some(v),
            Elements::Float(_) | Elements::Str(_) => None,
        }
    }

    /// The string elements (byte strings), if the tensor holds strings.
    pub fn as_strs(&self) -> Option<&[Bytes]> {
        match &self.data {
            Elements::Str(v) => Some(v),
            Elements::Int(_) | Elements::Float(_) => None,
        }
    }

    /// The integer elements as constants, if all of them are.
    pub fn as_i64s(&self) -> Option<Vec<i64>> {
        self.as_ints()?.iter().map(Dim::as_i64).collect()
    }

    /// The elements as floats, converting integers when they are constants.
    pub fn as_f64s(&self) -> Option<Vec<f64>> {
        match &self.data {
            Elements::Float(v) => Some(v.clone()),
            Elements::Int(v) => v.iter().map(|d| d.as_i64().map(|i| i as f64)).collect(),
            Elements::Str(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(dtype: DType, dims: Vec<u64>, storage: Storage) -> ConstTensor {
        ConstTensor {
            dtype,
            dims,
            storage,
        }
    }

    #[test]
    fn decodes_little_endian_int64() {
        let mut raw = Vec::new();
        for v in [1i64, -3, 224] {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        let t = tensor(
            DType::Int64,
            vec![3],
            Storage::LittleEndian(Bytes::from(raw)),
        );
        let v = t.decode(16).unwrap().unwrap();
        assert_eq!(v.as_i64s(), Some(vec![1, -3, 224]));
        assert_eq!(v.shape, vec![3]);
    }

    #[test]
    fn decodes_varints_with_sign_extension() {
        // 5, -1 (ten-byte sign-extended varint), 300
        let mut raw = vec![5u8];
        raw.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        raw.extend_from_slice(&[0xac, 0x02]);
        let t = tensor(DType::Int32, vec![3], Storage::Varint(Bytes::from(raw)));
        assert_eq!(
            t.decode(16).unwrap().unwrap().as_i64s(),
            Some(vec![5, -1, 300])
        );
    }

    #[test]
    fn decodes_halves_and_floats() {
        // 1.0 and -2.0 in float16: 0x3c00, 0xc000
        let raw = [0x00u8, 0x3c, 0x00, 0xc0];
        let t = tensor(
            DType::Float16,
            vec![2],
            Storage::LittleEndian(Bytes::copy_from_slice(&raw)),
        );
        assert_eq!(
            t.decode(16).unwrap().unwrap().as_f64s(),
            Some(vec![1.0, -2.0])
        );
        let raw = 6.0f32.to_le_bytes();
        let t = tensor(
            DType::Float32,
            vec![],
            Storage::LittleEndian(Bytes::copy_from_slice(&raw)),
        );
        assert_eq!(t.decode(16).unwrap().unwrap().as_f64s(), Some(vec![6.0]));
    }

    #[test]
    fn refuses_large_external_and_wrong_lengths() {
        let t = tensor(
            DType::Int64,
            vec![4],
            Storage::LittleEndian(Bytes::from(vec![0u8; 32])),
        );
        assert!(
            t.decode(3).unwrap().is_none(),
            "too many elements is 'not decoded'"
        );
        let t = tensor(
            DType::Int64,
            vec![2],
            Storage::External {
                location: "w.bin".into(),
                offset: 0,
                length: None,
            },
        );
        assert!(t.decode(16).unwrap().is_none());
        let t = tensor(
            DType::Int64,
            vec![2],
            Storage::LittleEndian(Bytes::from(vec![0u8; 15])),
        );
        assert!(matches!(
            t.decode(16),
            Err(DecodeError::WrongLength {
                expected: 16,
                found: 15,
                ..
            })
        ));
        let t = tensor(
            DType::Int64,
            vec![2],
            Storage::Varint(Bytes::from(vec![1u8])),
        );
        assert!(matches!(
            t.decode(16),
            Err(DecodeError::WrongCount {
                expected: 2,
                found: 1,
                ..
            })
        ));
        let t = tensor(
            DType::Int64,
            vec![1],
            Storage::Varint(Bytes::from(vec![0x80u8])),
        );
        assert_eq!(t.decode(16), Err(DecodeError::BadVarint));
    }

    fn strings(values: &[&'static str]) -> Storage {
        Storage::Strings(
            values
                .iter()
                .map(|s| Bytes::from_static(s.as_bytes()))
                .collect(),
        )
    }

    #[test]
    fn decodes_strings_keeping_their_bytes() {
        let t = tensor(DType::String, vec![2, 2], strings(&["a b", "", "é", "x"]));
        let v = t.decode(16).unwrap().unwrap();
        assert_eq!(v.dtype, DType::String);
        assert_eq!(v.shape, vec![2, 2]);
        assert_eq!(v.data.len(), 4);
        let strs: Vec<&[u8]> = v.as_strs().unwrap().iter().map(|b| &b[..]).collect();
        assert_eq!(strs, vec![&b"a b"[..], b"", "é".as_bytes(), b"x"]);
        assert_eq!(v.as_ints(), None);
        assert_eq!(v.as_f64s(), None);

        // Not UTF-8: still decoded, byte for byte.
        let t = tensor(
            DType::String,
            vec![1],
            Storage::Strings(vec![Bytes::from_static(&[0xff, 0x00])]),
        );
        let v = t.decode(16).unwrap().unwrap();
        assert_eq!(&v.as_strs().unwrap()[0][..], &[0xff, 0x00]);

        // A scalar and an empty tensor.
        let t = tensor(DType::String, vec![], strings(&["s"]));
        assert_eq!(t.decode(16).unwrap().unwrap().data.len(), 1);
        let t = tensor(DType::String, vec![0, 3], strings(&[]));
        let v = t.decode(16).unwrap().unwrap();
        assert!(v.data.is_empty());
        assert_eq!(v.shape, vec![0, 3]);
    }

    #[test]
    fn refuses_large_and_miscounted_strings() {
        let t = tensor(DType::String, vec![3], strings(&["a", "b", "c"]));
        assert!(t.decode(2).unwrap().is_none());
        let t = tensor(DType::String, vec![3], strings(&["a", "b"]));
        assert_eq!(
            t.decode(16),
            Err(DecodeError::WrongCount {
                dims: vec![3],
                expected: 3,
                found: 2,
            })
        );
        // Strings stored for a number type are not decoded.
        let t = tensor(DType::Int64, vec![1], strings(&["1"]));
        assert!(t.decode(16).unwrap().is_none());
    }

    #[test]
    fn string_values_from_anything_bytes_like() {
        let v = TensorValue::strings(vec![2], ["ab", "c"]);
        assert_eq!(v.dtype, DType::String);
        assert_eq!(v.tensor_type().to_string(), "string[2]");
        assert_eq!(&v.as_strs().unwrap()[1][..], b"c");
        let v = TensorValue::strings(vec![1], [vec![0xffu8]]);
        assert_eq!(&v.as_strs().unwrap()[0][..], &[0xff]);
    }

    #[test]
    fn bytes_of_sub_byte_types_round_up() {
        let t = TensorType::new(DType::Int4, vec![Dim::from_i64(3)]);
        assert_eq!(t.bytes(), Dim::from_i64(2));
        let t = TensorType::new(DType::Float32, vec![Dim::from_i64(2), Dim::sym("n")]);
        assert_eq!(t.bytes().to_string(), "8*n");
    }
}
