//! The op registry: one [`OpDef`] per (domain, op type, opset range), submitted with
//! `inventory::submit!` next to the op's code, built-in or plugin alike.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use flopscope_ir::domain_key;

use crate::{Cost, CostCtx, InferCtx, OpError};

/// An inclusive range of opset versions of the op's domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Opsets {
    pub since: i64,
    /// `None`: still current.
    pub until: Option<i64>,
}

impl Opsets {
    /// From `since` on, with no end.
    pub const fn since(since: i64) -> Opsets {
        Opsets { since, until: None }
    }

    /// From `since` to `until`, both included.
    pub const fn range(since: i64, until: i64) -> Opsets {
        Opsets {
            since,
            until: Some(until),
        }
    }

    pub fn contains(&self, opset: i64) -> bool {
        opset >= self.since && self.until.is_none_or(|u| opset <= u)
    }

    /// Whether two ranges share a version.
    pub fn overlaps(&self, other: &Opsets) -> bool {
        let end = |o: &Opsets| o.until.unwrap_or(i64::MAX);
        self.since <= end(other) && other.since <= end(self)
    }
}

impl fmt::Display for Opsets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.until {
            None => write!(f, "{}+", self.since),
            Some(u) if u == self.since => write!(f, "{u}"),
            Some(u) => write!(f, "{}-{u}", self.since),
        }
    }
}

/// What an op does with one of its inputs, for sorting constants into params, buffers and
/// constants (docs/counting.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// An operand. A constant floating-point operand with more than one element is a learned
    /// weight (a bias added by `Add`, an embedding table read by `Gather`); other constants
    /// here are constants.
    Data,
    /// A learned weight: a param whenever it is constant.
    Weight,
    /// A learned bias: a param whenever it is constant.
    Bias,
    /// Running statistics (BatchNormalization mean and variance): a buffer.
    Buffer,
    /// Quantization scales and zero points: their own bucket.
    Quant,
    /// A learned weight packed several elements to a stored element (MatMulNBits' n-bit
    /// weights in uint8): a param counted in its logical elements (stored bits over the node's
    /// `bits` attribute, 4 by default), its weight bytes what it stores.
    PackedWeight,
    /// Shapes, axes, indices, bounds and other settings given as inputs: a constant.
    Config,
    /// Only the input's shape or element type is read, never its elements (Shape, Size, the
    /// `*Like` ops): a constant read so is a constant, and the outputs do not depend on the
    /// input's values.
    ShapeOf,
}

/// The family an op belongs to, as the PyTorch counting tools see it: what `flopscope
/// compare` and the conventions total by, and the rules they apply to an op they have no
/// special case for. Each op's record states its class; a plugin or a declared op states its
/// own (`class = "conv"` in TOML).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpClass {
    /// Convolutions (a kernel slid over spatial axes).
    Conv,
    /// Matrix products: Gemm, MatMul, Einsum, attention.
    Matmul,
    /// Normalisations: batch, layer, instance, group, RMS.
    Norm,
    /// Activations and softmax-like functions.
    Activation,
    /// Pooling.
    Pooling,
    /// Elementwise sums (Add, Sum).
    Add,
    /// Everything else.
    Other,
}

/// An unknown op class name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown op class `{name}` (known: {})", OpClass::KEYS.join(", "))]
pub struct UnknownOpClass {
    pub name: String,
}

impl OpClass {
    /// Every class, in the order tables show them.
    pub const ALL: [OpClass; 7] = [
        OpClass::Conv,
        OpClass::Matmul,
        OpClass::Norm,
        OpClass::Activation,
        OpClass::Pooling,
        OpClass::Add,
        OpClass::Other,
    ];

    /// The names declarations and JSON use, in the order of [`OpClass::ALL`].
    pub const KEYS: [&'static str; 7] = [
        "conv",
        "matmul",
        "norm",
        "activation",
        "pooling",
        "add",
        "other",
    ];

    /// The name declarations and JSON use (`class = "conv"`).
    pub fn key(self) -> &'static str {
        Self::KEYS[self as usize]
    }

    /// The name tables show.
    pub fn name(self) -> &'static str {
        match self {
            OpClass::Conv => "conv",
            OpClass::Matmul => "gemm/matmul",
            OpClass::Norm => "batchnorm/norm",
            OpClass::Activation => "activation",
            OpClass::Pooling => "pooling",
            OpClass::Add => "elementwise add",
            OpClass::Other => "other",
        }
    }
}

impl std::str::FromStr for OpClass {
    type Err = UnknownOpClass;

    fn from_str(s: &str) -> Result<OpClass, UnknownOpClass> {
        OpClass::ALL
            .into_iter()
            .find(|c| c.key() == s)
            .ok_or_else(|| UnknownOpClass { name: s.to_owned() })
    }
}

/// Infers the types (and, where it can, the values) of a node's outputs.
pub type InferFn = fn(&mut InferCtx<'_>) -> Result<(), OpError>;
/// Computes a node's arithmetic cost from its inferred input and output types.
pub type CostFn = fn(&CostCtx<'_>) -> Result<Cost, OpError>;

/// One op's registration: its key, its shape and cost functions, and its formula.
#[derive(Clone, Copy)]
pub struct OpDef {
    /// The domain: `""` for the default domain (`ai.onnx`).
    pub domain: &'static str,
    pub op_type: &'static str,
    /// The op's family, for `compare` and the conventions.
    pub class: OpClass,
    pub opsets: Opsets,
    /// The role of each input, by position; inputs past the end take the last role (variadic
    /// ops), and an empty list means all inputs are [`Role::Data`].
    pub roles: &'static [Role],
    pub infer: InferFn,
    pub cost: CostFn,
    /// The cost formula in one line, for `flopscope ops` and the docs.
    pub formula: &'static str,
}

inventory::collect!(OpDef);

impl OpDef {
    /// The role of input `index`.
    pub fn role(&self, index: usize) -> Role {
        self.roles
            .get(index)
            .or(self.roles.last())
            .copied()
            .unwrap_or(Role::Data)
    }

    /// `ai.onnx` for the default domain.
    pub fn domain_name(&self) -> &'static str {
        flopscope_ir::display_domain(self.domain)
    }
}

impl fmt::Debug for OpDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}::{} (opsets {})",
            self.domain_name(),
            self.op_type,
            self.opsets
        )
    }
}

/// An op declared while the program runs rather than linked in (`--op-costs FILE.toml`): the
/// same three things an [`OpDef`] has, behind a trait object. Declared ops apply at every opset
/// of their domain; a linked record for the same op wins.
pub trait DeclaredOp: Send + Sync + fmt::Debug {
    /// The domain as written in models (`""` or `ai.onnx` for the default domain).
    fn domain(&self) -> &str;
    fn op_type(&self) -> &str;
    /// The op's family, for `compare` and the conventions.
    fn class(&self) -> OpClass {
        OpClass::Other
    }
    /// The role of input `index`.
    fn role(&self, index: usize) -> Role;
    fn infer(&self, cx: &mut InferCtx<'_>) -> Result<(), OpError>;
    fn cost(&self, cx: &CostCtx<'_>) -> Result<Cost, OpError>;
    /// The cost formula in one line.
    fn formula(&self) -> String;
}

/// The implementation a node runs with: a linked record or a declared op.
#[derive(Debug, Clone, Copy)]
pub enum OpImpl<'a> {
    Linked(&'static OpDef),
    Declared(&'a dyn DeclaredOp),
}

impl OpImpl<'_> {
    pub fn class(&self) -> OpClass {
        match self {
            OpImpl::Linked(d) => d.class,
            OpImpl::Declared(d) => d.class(),
        }
    }

    pub fn role(&self, index: usize) -> Role {
        match self {
            OpImpl::Linked(d) => d.role(index),
            OpImpl::Declared(d) => d.role(index),
        }
    }

    pub fn infer(&self, cx: &mut InferCtx<'_>) -> Result<(), OpError> {
        match self {
            OpImpl::Linked(d) => (d.infer)(cx),
            OpImpl::Declared(d) => d.infer(cx),
        }
    }

    pub fn cost(&self, cx: &CostCtx<'_>) -> Result<Cost, OpError> {
        match self {
            OpImpl::Linked(d) => (d.cost)(cx),
            OpImpl::Declared(d) => d.cost(cx),
        }
    }
}

/// Two records that claim the same opset version of the same op.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub first: &'static OpDef,
    pub second: &'static OpDef,
}

/// Every registered op, indexed by (domain, op type), each list sorted by opset range.
#[derive(Debug)]
pub struct Registry {
    ops: BTreeMap<(&'static str, &'static str), Vec<&'static OpDef>>,
}

impl Registry {
    fn build() -> Registry {
        let mut ops: BTreeMap<_, Vec<&'static OpDef>> = BTreeMap::new();
        for def in inventory::iter::<OpDef> {
            ops.entry((domain_key(def.domain), def.op_type))
                .or_default()
                .push(def);
        }
        for defs in ops.values_mut() {
            defs.sort_by_key(|d| d.opsets);
        }
        Registry { ops }
    }

    /// The record for an op at the opset version the model imports for its domain. Where
    /// records overlap (see [`Registry::conflicts`]), the one with the lowest starting version
    /// wins, so the choice does not depend on link order.
    pub fn lookup(&self, domain: &str, op_type: &str, opset: i64) -> Option<&'static OpDef> {
        self.ops
            .get(&(domain_key(domain), op_type))?
            .iter()
            .find(|d| d.opsets.contains(opset))
            .copied()
    }

    /// Whether any opset of this op has a record.
    pub fn knows(&self, domain: &str, op_type: &str) -> bool {
        self.ops.contains_key(&(domain_key(domain), op_type))
    }

    /// All records, sorted by domain, op type and opset range.
    pub fn iter(&self) -> impl Iterator<Item = &'static OpDef> + '_ {
        self.ops.values().flatten().copied()
    }

    /// Pairs of records for the same op whose opset ranges overlap.
    pub fn conflicts(&self) -> Vec<Conflict> {
        let mut out = Vec::new();
        for defs in self.ops.values() {
            for (i, a) in defs.iter().enumerate() {
                for b in &defs[i + 1..] {
                    if a.opsets.overlaps(&b.opsets) {
                        out.push(Conflict {
                            first: a,
                            second: b,
                        });
                    }
                }
            }
        }
        out
    }
}

/// The registry of every op linked into this program, built once.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_records_claim_the_same_opset() {
        let conflicts = registry().conflicts();
        assert!(conflicts.is_empty(), "overlapping records: {conflicts:?}");
    }

    #[test]
    fn registry_is_sorted_and_nonempty() {
        let keys: Vec<_> = registry()
            .iter()
            .map(|d| (d.domain, d.op_type, d.opsets))
            .collect();
        assert!(keys.len() > 20);
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn every_record_has_a_formula_and_a_valid_range() {
        for def in registry().iter() {
            assert!(!def.formula.trim().is_empty(), "{def:?} has no formula");
            assert!(def.opsets.since >= 1, "{def:?}");
            if let Some(u) = def.opsets.until {
                assert!(u >= def.opsets.since, "{def:?}");
            }
        }
    }

    #[test]
    fn lookup_picks_the_range_of_the_opset() {
        let r = registry();
        let old = r.lookup("", "Reshape", 4).expect("Reshape-1");
        let new = r.lookup("ai.onnx", "Reshape", 17).expect("Reshape-5");
        assert!(old.opsets.contains(4) && !old.opsets.contains(5));
        assert!(new.opsets.contains(17));
        assert!(r.lookup("", "NoSuchOp", 17).is_none());
    }

    /// Ops on quantized tensors, by their names' conventions in both domains: the QLinear
    /// family, Q-prefixed fusions (QGemm, QAttention), the (de)quantizers, integer products.
    fn is_quantized_op(op_type: &str) -> bool {
        let q_fusion = op_type.strip_prefix('Q').is_some_and(|rest| {
            rest.starts_with(|c: char| c.is_ascii_uppercase()) && !rest.starts_with("uant")
        });
        q_fusion
            || op_type.contains("Quantize")
            || op_type.ends_with("Integer")
            || op_type.ends_with("IntegerToFloat")
            || op_type == "MatMulNBits"
    }

    #[test]
    fn every_scale_and_zero_point_is_quant_whatever_the_domain() {
        // In a quantized op, an input that is not an operand (data, a weight, a bias) is a
        // scale or a zero point, except the settings listed here by name.
        let settings = [("com.microsoft", "MatMulNBits", 4)]; // g_idx
        let mut checked = 0;
        for def in registry().iter().filter(|d| is_quantized_op(d.op_type)) {
            checked += 1;
            for (i, role) in def.roles.iter().enumerate() {
                if settings.contains(&(def.domain, def.op_type, i)) {
                    continue;
                }
                assert!(
                    !matches!(role, Role::Config | Role::Buffer),
                    "{def:?}: input {i} is {role:?}; a scale or zero point is Role::Quant"
                );
            }
        }
        assert!(checked >= 20, "{checked} quantized records");
        // A quantized op of the same type in two domains gives its inputs the same roles.
        let elsewhere = |d: &&OpDef| !d.domain.is_empty() && is_quantized_op(d.op_type);
        for def in registry().iter().filter(elsewhere) {
            if let Some(twin) = registry().lookup("", def.op_type, i64::MAX) {
                let n = def.roles.len().max(twin.roles.len());
                let of = |d: &OpDef| (0..n).map(|i| d.role(i)).collect::<Vec<_>>();
                assert_eq!(of(def), of(twin), "{def:?} and {twin:?}");
            }
        }
    }

    #[test]
    fn opset_ranges() {
        let a = Opsets::range(1, 10);
        assert!(a.contains(1) && a.contains(10) && !a.contains(11));
        assert!(a.overlaps(&Opsets::since(10)));
        assert!(!a.overlaps(&Opsets::since(11)));
        assert_eq!(Opsets::since(13).to_string(), "13+");
        assert_eq!(a.to_string(), "1-10");
    }
}
