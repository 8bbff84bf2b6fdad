//! Activation functions: Sigmoid, Tanh, HardSigmoid, HardSwish, Elu, Selu, Celu, LeakyRelu,
//! PRelu, ThresholdedRelu, Softplus, Softsign, Mish, Swish, Gelu, Shrink (Relu and Clip live
//! with the elementwise math).
//!
//! Each costs one FLOP per output element per elementary operation of its spec formula, every
//! branch of a piecewise formula counted as taken (the counts do not depend on the data):
//! exp, log, tanh, erf = `special`; a comparison or a select = `cmp`; a multiplication by a
//! coefficient (α, β, γ, 0.5) = `mul`; `x/α` = `div`.

use super::elementwise::{infer_unary, per_element};
use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, broadcast, invalid};

/// Operations per element (add, mul, div, cmp, special) of each activation's spec formula,
/// shared with the ops that fuse an activation (`com.microsoft` FusedConv, FusedGemm, QuickGelu).
pub(super) const SIGMOID: [i64; 5] = [1, 0, 1, 0, 1];
pub(super) const TANH: [i64; 5] = [0, 0, 0, 0, 1];
pub(super) const HARD_SIGMOID: [i64; 5] = [1, 1, 0, 2, 0];
pub(super) const HARD_SWISH: [i64; 5] = [1, 2, 0, 2, 0];
pub(super) const ELU: [i64; 5] = [1, 1, 0, 1, 1];
pub(super) const SELU: [i64; 5] = [1, 2, 0, 1, 1];
pub(super) const CELU: [i64; 5] = [2, 1, 1, 2, 1];
pub(super) const LEAKY_RELU: [i64; 5] = [0, 1, 0, 1, 0];
pub(super) const THRESHOLDED_RELU: [i64; 5] = [0, 0, 0, 1, 0];
pub(super) const SOFTPLUS: [i64; 5] = [1, 0, 0, 0, 2];
pub(super) const SOFTSIGN: [i64; 5] = [1, 0, 1, 1, 0];
pub(super) const MISH: [i64; 5] = [1, 1, 0, 0, 3];
pub(super) const SWISH: [i64; 5] = [1, 2, 1, 0, 1];
pub(super) const SHRINK: [i64; 5] = [1, 0, 0, 2, 0];

/// An activation from opset `since` on: Y has X's type; `counts` operations per element (add,
/// mul, div, cmp, special).
macro_rules! activation {
    ($class:ident, $op:literal, $since:literal, $counts:expr, $formula:literal) => {
        inventory::submit! {
            OpDef {
                domain: "",
                op_type: $op,
                class: OpClass::$class,
                opsets: Opsets::since($since),
                roles: &[Role::Data],
                infer: |cx| infer_unary(cx, None, None),
                cost: |cx| per_element(cx, $counts),
                formula: $formula,
            }
        }
    };
}

activation!(
    Activation,
    "Sigmoid",
    1,
    SIGMOID,
    "1/(1 + exp(−x)): special = numel(Y), add = numel(Y), div = numel(Y)"
);
activation!(Activation, "Tanh", 1, TANH, "special = numel(Y)");
activation!(
    Activation,
    "HardSigmoid",
    1,
    HARD_SIGMOID,
    "max(0, min(1, α·x + β)): mul = numel(Y), add = numel(Y), cmp = 2·numel(Y)"
);
activation!(
    Activation,
    "HardSwish",
    14,
    HARD_SWISH,
    "x·max(0, min(1, x/6 + ½)): mul = 2·numel(Y), add = numel(Y), cmp = 2·numel(Y)"
);
activation!(
    Activation,
    "Elu",
    1,
    ELU,
    "x < 0 ? α·(exp(x) − 1) : x: cmp = numel(Y), special = numel(Y), add = numel(Y), mul = numel(Y)"
);
activation!(
    Activation,
    "Selu",
    1,
    SELU,
    "γ·(x ≤ 0 ? α·exp(x) − α : x): cmp = numel(Y), special = numel(Y), add = numel(Y), mul = 2·numel(Y)"
);
activation!(
    Activation,
    "Celu",
    12,
    CELU,
    "max(0, x) + min(0, α·(exp(x/α) − 1)): cmp = 2·numel(Y), div = numel(Y), special = numel(Y), mul = numel(Y), add = 2·numel(Y)"
);
activation!(
    Activation,
    "LeakyRelu",
    1,
    LEAKY_RELU,
    "x < 0 ? α·x : x: cmp = numel(Y), mul = numel(Y)"
);
activation!(
    Activation,
    "ThresholdedRelu",
    10,
    THRESHOLDED_RELU,
    "x > α ? x : 0: cmp = numel(Y)"
);
activation!(
    Activation,
    "Softplus",
    1,
    SOFTPLUS,
    "log(exp(x) + 1): special = 2·numel(Y), add = numel(Y)"
);
activation!(
    Activation,
    "Softsign",
    1,
    SOFTSIGN,
    "x/(1 + |x|): cmp = numel(Y) (abs), add = numel(Y), div = numel(Y)"
);
activation!(
    Activation,
    "Mish",
    18,
    MISH,
    "x·tanh(log(1 + exp(x))): special = 3·numel(Y), add = numel(Y), mul = numel(Y)"
);
activation!(
    Activation,
    "Swish",
    24,
    SWISH,
    "x·sigmoid(α·x): mul = 2·numel(Y), special = numel(Y) (exp), add = numel(Y), div = numel(Y)"
);
activation!(
    Activation,
    "Shrink",
    9,
    SHRINK,
    "x < −λ ? x + bias : x > λ ? x − bias : 0: cmp = 2·numel(Y), add = numel(Y)"
);

// ---- PRelu -----------------------------------------------------------------------------------

/// PRelu: Y has X's type. From opset 7 the slope broadcasts onto X (NumPy rules, one way);
/// before, a slope of one element or of X's channels was accepted as is.
fn infer_prelu(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?.clone();
    let slope = cx.tensor(1)?;
    if cx.opset() >= 7 {
        let b = broadcast(&[&x.shape, &slope.shape])?;
        let fits = b.len() == x.rank() && b.iter().zip(&x.shape).all(|(b, x)| b == x);
        if !fits {
            return invalid!("slope {} does not broadcast onto X {}", slope, x);
        }
    }
    cx.set(0, x);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "PRelu",
        class: OpClass::Activation,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight],
        infer: infer_prelu,
        cost: |cx| per_element(cx, [0, 1, 0, 1, 0]),
        formula: "x < 0 ? slope·x : x: cmp = numel(Y), mul = numel(Y)",
    }
}

// ---- Gelu ------------------------------------------------------------------------------------

/// Whether Gelu uses the tanh approximation (`approximate` = "tanh") or erf ("none").
fn gelu_is_tanh(approximate: &str) -> Result<bool, OpError> {
    match approximate {
        "none" => Ok(false),
        "tanh" => Ok(true),
        other => invalid!("`approximate` = \"{other}\", expected \"none\" or \"tanh\""),
    }
}

fn infer_gelu(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    gelu_is_tanh(cx.attr_or("approximate", "none")?)?;
    infer_unary(cx, None, None)
}

/// `none`: 0.5·x·(1 + erf(x/√2)): x·(1/√2), 0.5·x and the product are 3 mul, 1 add, 1 erf.
/// `tanh`: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): x³ (2 mul), ·0.044715, ·√(2/π), 0.5·x
/// and the product are 6 mul, 2 add, 1 tanh.
fn cost_gelu(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let counts = if gelu_is_tanh(cx.attr_or("approximate", "none")?)? {
        GELU_TANH
    } else {
        GELU_ERF
    };
    per_element(cx, counts)
}

/// Gelu per element, `approximate = "none"` (erf form).
pub(super) const GELU_ERF: [i64; 5] = [1, 3, 0, 0, 1];
/// Gelu per element, `approximate = "tanh"`.
pub(super) const GELU_TANH: [i64; 5] = [2, 6, 0, 0, 1];

/// The per-element counts of an activation fused into another op, by its ONNX op name (the
/// `activation` attribute of `com.microsoft` FusedConv / FusedGemm): the counts the standalone
/// op has. `Relu` and `Clip` (with both bounds) count as `elementwise.rs` counts them.
pub(super) fn activation_counts(name: &str) -> Option<[i64; 5]> {
    Some(match name {
        "Relu" => [0, 0, 0, 1, 0],
        "Clip" => [0, 0, 0, 2, 0],
        "Sigmoid" => SIGMOID,
        "Tanh" => TANH,
        "HardSigmoid" => HARD_SIGMOID,
        "HardSwish" => HARD_SWISH,
        "Elu" => ELU,
        "Selu" => SELU,
        "Celu" => CELU,
        "LeakyRelu" => LEAKY_RELU,
        "ThresholdedRelu" => THRESHOLDED_RELU,
        "Softplus" => SOFTPLUS,
        "Softsign" => SOFTSIGN,
        "Mish" => MISH,
        "Swish" => SWISH,
        "Shrink" => SHRINK,
        "Gelu" => GELU_ERF,
        _ => return None,
    })
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Gelu",
        class: OpClass::Activation,
        opsets: Opsets::since(20),
        roles: &[Role::Data],
        infer: infer_gelu,
        cost: cost_gelu,
        formula: "none: 0.5·x·(1 + erf(x/√2)): special = numel(Y), mul = 3·numel(Y), add = numel(Y); tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): special = numel(Y), mul = 6·numel(Y), add = 2·numel(Y)",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    /// Runs `op` on x: [2, 3, 4] (24 elements) and returns its flops by kind, checking that Y
    /// has X's type.
    fn on_24(op: &str, opset: i64) -> (i64, i64, i64, i64, i64) {
        let r = Case::new(op)
            .opset(opset)
            .input(t("float32", &[2, 3, 4]))
            .run();
        assert_eq!(r.shape(0), "[2, 3, 4]", "{op}");
        assert_eq!(r.dtype(0), flopscope_ir::DType::Float32, "{op}");
        r.kinds()
    }

    #[test]
    fn activation_formulas_by_hand() {
        // (add, mul, div, cmp, special) for 24 elements, from each spec formula:
        // Sigmoid 1/(1 + exp(−x)): exp, +1, 1/· → add 24, div 24, special 24.
        assert_eq!(on_24("Sigmoid", 13), (24, 0, 24, 0, 24));
        // Tanh: one tanh.
        assert_eq!(on_24("Tanh", 13), (0, 0, 0, 0, 24));
        // HardSigmoid max(0, min(1, α·x + β)): α·x, +β, min, max.
        assert_eq!(on_24("HardSigmoid", 6), (24, 24, 0, 48, 0));
        // HardSwish x·HardSigmoid(x): the above plus one mul.
        assert_eq!(on_24("HardSwish", 14), (24, 48, 0, 48, 0));
        // Elu x < 0 ? α·(exp(x) − 1) : x: test, exp, −1, α·.
        assert_eq!(on_24("Elu", 6), (24, 24, 0, 24, 24));
        // Selu γ·(x ≤ 0 ? α·exp(x) − α : x): test, exp, α·, −α, γ·.
        assert_eq!(on_24("Selu", 6), (24, 48, 0, 24, 24));
        // Celu max(0, x) + min(0, α·(exp(x/α) − 1)): max, min, x/α, exp, −1, α·, +.
        assert_eq!(on_24("Celu", 12), (48, 24, 24, 48, 24));
        // LeakyRelu x < 0 ? α·x : x: test, α·x.
        assert_eq!(on_24("LeakyRelu", 16), (0, 24, 0, 24, 0));
        // ThresholdedRelu x > α ? x : 0: test.
        assert_eq!(on_24("ThresholdedRelu", 10), (0, 0, 0, 24, 0));
        // Softplus log(exp(x) + 1): exp, +1, log.
        assert_eq!(on_24("Softplus", 1), (24, 0, 0, 0, 48));
        // Softsign x/(1 + |x|): abs, +1, divide.
        assert_eq!(on_24("Softsign", 1), (24, 0, 24, 24, 0));
        // Mish x·tanh(log(1 + exp(x))): exp, +1, log, tanh, x·.
        assert_eq!(on_24("Mish", 18), (24, 24, 0, 0, 72));
        // Swish x·sigmoid(α·x): α·x, exp, +1, 1/·, x·.
        assert_eq!(on_24("Swish", 24), (24, 48, 24, 0, 24));
        // Shrink x < −λ ? x + bias : x > λ ? x − bias : 0: two tests, one add.
        assert_eq!(on_24("Shrink", 9), (24, 0, 0, 48, 0));
    }

    #[test]
    fn gelu_both_approximations() {
        // none: 0.5·x·(1 + erf(x/√2)): x·(1/√2), erf, 1 + ·, 0.5·x, product.
        let r = Case::new("Gelu")
            .opset(20)
            .input(t("float32", &[2, 8]))
            .run();
        assert_eq!(r.kinds(), (16, 48, 0, 0, 16));
        // tanh: x³ (2 mul), 0.044715·, x + ·, √(2/π)·, tanh, 1 + ·, 0.5·x, product.
        let r = Case::new("Gelu")
            .opset(20)
            .input(t("float32", &[2, 8]))
            .str("approximate", "tanh")
            .run();
        assert_eq!(r.kinds(), (32, 96, 0, 0, 16));
        let err = Case::new("Gelu")
            .opset(20)
            .input(t("float32", &[2]))
            .str("approximate", "fast")
            .run_err();
        assert!(err.contains("approximate"), "{err}");
    }

    #[test]
    fn prelu_slope_is_a_learned_weight() {
        let r = Case::new("PRelu")
            .input_sym("float32", &["batch", "64", "8", "8"])
            .weight(t("float32", &[64, 1, 1]))
            .run();
        assert_eq!(r.shape(0), "[batch, 64, 8, 8]");
        assert_eq!(r.params(), 64);
        let r = Case::new("PRelu")
            .input(t("float32", &[1, 64, 8, 8]))
            .weight(t("float32", &[64, 1, 1]))
            .run();
        // x < 0 ? slope·x : x: one test and one mul per element.
        assert_eq!(r.kinds(), (0, 4096, 0, 4096, 0));
        let err = Case::new("PRelu")
            .input(t("float32", &[1, 3]))
            .weight(t("float32", &[2, 3]))
            .run_err();
        assert!(err.contains("does not broadcast onto X"), "{err}");
        // Opset 6: a slope of X's channels is taken as is.
        let r = Case::new("PRelu")
            .opset(6)
            .input(t("float32", &[1, 64, 8, 8]))
            .weight(t("float32", &[64]))
            .run();
        assert_eq!(r.shape(0), "[1, 64, 8, 8]");
    }
}
