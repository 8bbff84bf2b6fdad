//! The ONNX Runtime bridge: runs a model through the `ort` crate (`load-dynamic`: the shared
//! library is found at run time, never downloaded at build time) and reports the runtime type
//! of every output. The shape oracle of the tests: `cargo xtask verify-shapes` exposes every
//! intermediate value as an output and compares its runtime shape with flopscope's.

pub mod bench;
mod find;

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::OnceLock;

use flopscope_ir::DType;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor, TensorElementType, ValueType as OrtType};

/// Why ONNX Runtime could not be used or could not run the model.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OrtError {
    #[error(
        "ONNX Runtime is not available: {0}. Install it with `pip install onnxruntime` and set \
         ORT_DYLIB_PATH to its libonnxruntime.so (in onnxruntime/capi/)"
    )]
    NotFound(String),
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// External data that `bench` will not let ONNX Runtime read (see
    /// [`bench::check_external_data`]).
    #[error("{}: tensor `{tensor}`: external data `{location}` {reason}", model.display())]
    ExternalData {
        model: PathBuf,
        tensor: String,
        location: String,
        reason: String,
    },
    #[error("input `{name}` has element type {dtype}, which flopscope cannot make random data for")]
    UnsupportedInput { name: String, dtype: DType },
}

fn runtime<E: std::fmt::Display>(e: E) -> OrtError {
    OrtError::Runtime(e.to_string())
}

/// The shared library: `ORT_DYLIB_PATH`, else the one inside an installed `onnxruntime` Python
/// package.
pub fn find_library() -> Result<PathBuf, OrtError> {
    find::find_library().map_err(OrtError::NotFound)
}

/// A loaded ONNX Runtime.
#[derive(Debug)]
pub struct Runtime {
    pub(crate) env: ort::environment::Environment,
    /// The shared library loaded.
    pub library: PathBuf,
}

/// The runtime type of one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeValue {
    Tensor {
        dtype: Option<DType>,
        shape: Vec<i64>,
    },
    /// A sequence, map or optional (kind named).
    Other(String),
}

/// An input to feed: a name, an element type and a shape; the data is made up.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
}

impl Runtime {
    /// The runtime of this process: the shared library found by [`find_library`], loaded on
    /// the first call. ONNX Runtime allows one environment per process, so every later call
    /// returns the same runtime (or the same error).
    pub fn load() -> Result<&'static Runtime, OrtError> {
        static RUNTIME: OnceLock<Result<Runtime, OrtError>> = OnceLock::new();
        RUNTIME
            .get_or_init(|| {
                let library = find_library()?;
                let env = ort::init_from(&library)
                    .map_err(|e| OrtError::NotFound(format!("{}: {e}", library.display())))?
                    .build()
                    .map_err(runtime)?;
                Ok(Runtime { env, library })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The library's version, from its file name (`libonnxruntime.so.1.32.0`), else the git
    /// commit in its build info.
    pub fn version(&self) -> String {
        let name = self
            .library
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let from_name = name
            .split_once(".so.")
            .map(|(_, v)| v.to_owned())
            .or_else(|| {
                name.strip_prefix("libonnxruntime.")
                    .and_then(|v| v.strip_suffix(".dylib"))
                    .map(str::to_owned)
            })
            .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()));
        from_name.unwrap_or_else(|| {
            ort::info()
                .split(',')
                .find_map(|p| p.trim().strip_prefix("git-commit-id="))
                .map_or_else(|| "unknown".to_owned(), |c| format!("commit {c}"))
        })
    }

    /// Runs a serialized model once on deterministic pseudo-random inputs and returns every
    /// graph output's runtime type, in the model's output order. Graph optimizations are off,
    /// so every value is computed as the graph states it. `external` supplies external data
    /// files that are not on disk (a weight-stripped model: [`bench::made_up_external_data`]).
    pub fn run(
        &self,
        model: &[u8],
        inputs: &[InputSpec],
        external: &[bench::MadeUpFile],
    ) -> Result<Vec<(String, RuntimeValue)>, OrtError> {
        let mut builder = Session::builder(&self.env)
            .map_err(runtime)?
            .with_optimization_level(GraphOptimizationLevel::Disable)
            .map_err(runtime)?
            .with_intra_threads(1)
            .map_err(runtime)?;
        for (location, bytes) in external {
            builder = builder
                .with_external_initializer_file_in_memory(location, bytes.clone())
                .map_err(runtime)?;
        }
        let mut session = builder.commit_from_memory(model).map_err(runtime)?;
        let mut feeds: Vec<(Cow<'_, str>, SessionInputValue<'_>)> =
            Vec::with_capacity(inputs.len());
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for spec in inputs {
            let value = random_tensor(spec, &mut seed)?;
            feeds.push((
                Cow::Owned(spec.name.clone()),
                SessionInputValue::from(value),
            ));
        }
        let outputs = session.run(feeds).map_err(runtime)?;
        Ok(outputs
            .iter()
            .map(|(name, value)| (name.to_owned(), describe(&value)))
            .collect())
    }
}

/// A tensor to feed or read back whose elements are known: numbers held as `f64` (exact for
/// every float32, float64, and every integer up to 2^53), or byte strings.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownTensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub numbers: Vec<f64>,
}

impl Runtime {
    /// Runs a serialized model once on the given inputs and returns every graph output's
    /// elements, in the model's output order (`None` for an output of a type this bridge does
    /// not read back: strings, sequences, 8-bit floats, ...). Graph optimizations are off. The
    /// value oracle of `cargo xtask conformance --values`.
    pub fn run_values(
        &self,
        model: &[u8],
        inputs: &[(String, KnownTensor)],
    ) -> Result<Vec<(String, Option<KnownTensor>)>, OrtError> {
        let mut session = Session::builder(&self.env)
            .map_err(runtime)?
            .with_optimization_level(GraphOptimizationLevel::Disable)
            .map_err(runtime)?
            .with_intra_threads(1)
            .map_err(runtime)?
            .commit_from_memory(model)
            .map_err(runtime)?;
        let mut feeds: Vec<(Cow<'_, str>, SessionInputValue<'_>)> =
            Vec::with_capacity(inputs.len());
        for (name, t) in inputs {
            feeds.push((
                Cow::Owned(name.clone()),
                SessionInputValue::from(to_ort(name, t)?),
            ));
        }
        let outputs = session.run(feeds).map_err(runtime)?;
        Ok(outputs
            .iter()
            .map(|(name, value)| (name.to_owned(), from_ort(&value)))
            .collect())
    }
}

fn to_ort(name: &str, t: &KnownTensor) -> Result<DynValue, OrtError> {
    let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
    let n = &t.numbers;
    macro_rules! tensor {
        ($ty:ty, $conv:expr) => {
            Tensor::from_array((shape, n.iter().map($conv).collect::<Vec<$ty>>()))
                .map_err(runtime)?
                .into_dyn()
        };
    }
    Ok(match t.dtype {
        DType::Float32 => tensor!(f32, |&x| x as f32),
        DType::Float16 => tensor!(half::f16, |&x| half::f16::from_f64(x)),
        DType::Float64 => tensor!(f64, |&x| x),
        DType::Int64 => tensor!(i64, |&x| x as i64),
        DType::Int32 => tensor!(i32, |&x| x as i32),
        DType::Int16 => tensor!(i16, |&x| x as i16),
        DType::Int8 => tensor!(i8, |&x| x as i8),
        DType::Uint64 => tensor!(u64, |&x| x as u64),
        DType::Uint32 => tensor!(u32, |&x| x as u32),
        DType::Uint16 => tensor!(u16, |&x| x as u16),
        DType::Uint8 => tensor!(u8, |&x| x as u8),
        DType::Bool => tensor!(bool, |&x| x != 0.0),
        dtype => {
            return Err(OrtError::UnsupportedInput {
                name: name.to_owned(),
                dtype,
            });
        }
    })
}

fn from_ort(value: &ort::value::DynValueRef<'_>) -> Option<KnownTensor> {
    let OrtType::Tensor { ty, .. } = value.dtype() else {
        return None;
    };
    let dtype = dtype_of(*ty)?;
    macro_rules! read {
        ($ty:ty, $conv:expr) => {{
            let (shape, data) = value.try_extract_tensor::<$ty>().ok()?;
            (
                shape.iter().map(|&d| d as usize).collect::<Vec<_>>(),
                data.iter().map($conv).collect::<Vec<f64>>(),
            )
        }};
    }
    let (shape, numbers) = match dtype {
        DType::Float32 => read!(f32, |&x| f64::from(x)),
        DType::Float16 => read!(half::f16, |&x| x.to_f64()),
        DType::Float64 => read!(f64, |&x| x),
        DType::Int64 => read!(i64, |&x| x as f64),
        DType::Int32 => read!(i32, |&x| f64::from(x)),
        DType::Int16 => read!(i16, |&x| f64::from(x)),
        DType::Int8 => read!(i8, |&x| f64::from(x)),
        DType::Uint64 => read!(u64, |&x| x as f64),
        DType::Uint32 => read!(u32, |&x| f64::from(x)),
        DType::Uint16 => read!(u16, |&x| f64::from(x)),
        DType::Uint8 => read!(u8, |&x| f64::from(x)),
        DType::Bool => read!(bool, |&x| f64::from(u8::from(x))),
        _ => return None,
    };
    Some(KnownTensor {
        dtype,
        shape,
        numbers,
    })
}

fn describe(value: &ort::value::DynValueRef<'_>) -> RuntimeValue {
    match value.dtype() {
        OrtType::Tensor { ty, shape, .. } => RuntimeValue::Tensor {
            dtype: dtype_of(*ty),
            shape: shape.iter().copied().collect(),
        },
        OrtType::Sequence(_) => RuntimeValue::Other("a sequence".into()),
        OrtType::Map { .. } => RuntimeValue::Other("a map".into()),
        OrtType::Optional(_) => RuntimeValue::Other("an optional".into()),
    }
}

fn dtype_of(t: TensorElementType) -> Option<DType> {
    use TensorElementType as T;
    Some(match t {
        T::Float32 => DType::Float32,
        T::Uint8 => DType::Uint8,
        T::Int8 => DType::Int8,
        T::Uint16 => DType::Uint16,
        T::Int16 => DType::Int16,
        T::Int32 => DType::Int32,
        T::Int64 => DType::Int64,
        T::String => DType::String,
        T::Bool => DType::Bool,
        T::Float16 => DType::Float16,
        T::Float64 => DType::Float64,
        T::Uint32 => DType::Uint32,
        T::Uint64 => DType::Uint64,
        T::Bfloat16 => DType::Bfloat16,
        T::Complex64 => DType::Complex64,
        T::Complex128 => DType::Complex128,
        T::Float8E4M3FN => DType::Float8e4m3fn,
        T::Float8E4M3FNUZ => DType::Float8e4m3fnuz,
        T::Float8E5M2 => DType::Float8e5m2,
        T::Float8E5M2FNUZ => DType::Float8e5m2fnuz,
        T::Uint4 => DType::Uint4,
        T::Int4 => DType::Int4,
        T::Float4E2M1 => DType::Float4e2m1,
        T::Uint2 => DType::Uint2,
        T::Int2 => DType::Int2,
        T::Float8E8M0 => DType::Float8e8m0,
        _ => return None,
    })
}

/// xorshift64: deterministic data, the same on every run.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Made-up data of the input's type: floats in [-1, 1), integers in [0, 8) (small enough to be
/// valid token ids and indices), bools false.
pub(crate) fn random_tensor(spec: &InputSpec, seed: &mut u64) -> Result<DynValue, OrtError> {
    let shape: Vec<i64> = spec.shape.iter().map(|&d| d as i64).collect();
    let count: usize = spec.shape.iter().product();
    let value = match spec.dtype {
        DType::Float32 => {
            let data: Vec<f32> = (0..count)
                .map(|_| (next(seed) % 2000) as f32 / 1000.0 - 1.0)
                .collect();
            Tensor::from_array((shape, data))
                .map_err(runtime)?
                .into_dyn()
        }
        DType::Float16 => {
            let data: Vec<half::f16> = (0..count)
                .map(|_| half::f16::from_f64((next(seed) % 2000) as f64 / 1000.0 - 1.0))
                .collect();
            Tensor::from_array((shape, data))
                .map_err(runtime)?
                .into_dyn()
        }
        DType::Float64 => {
            let data: Vec<f64> = (0..count)
                .map(|_| (next(seed) % 2000) as f64 / 1000.0 - 1.0)
                .collect();
            Tensor::from_array((shape, data))
                .map_err(runtime)?
                .into_dyn()
        }
        DType::Int64 => {
            let data: Vec<i64> = (0..count).map(|_| (next(seed) % 8) as i64).collect();
            Tensor::from_array((shape, data))
                .map_err(runtime)?
                .into_dyn()
        }
        DType::Int32 => {
            let data: Vec<i32> = (0..count).map(|_| (next(seed) % 8) as i32).collect();
            Tensor::from_array((shape, data))
                .map_err(runtime)?
                .into_dyn()
        }
        DType::Bool => {
            let data = vec![false; count];
            Tensor::from_array((shape, data))
                .map_err(runtime)?
                .into_dyn()
        }
        dtype => {
            return Err(OrtError::UnsupportedInput {
                name: spec.name.clone(),
                dtype,
            });
        }
    };
    Ok(value)
}
