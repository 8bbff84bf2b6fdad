//! An example flopscope plugin, outside the core: it registers a custom op,
//! `com.example::FusedMLP`, through the same `inventory` record the built-in ops use.
//!
//! FusedMLP is a two-layer perceptron in one node: `Y = act(X·W1 + B1)·W2 + B2` with
//! `X [..., K]`, `W1 [K, H]`, `B1 [H]`, `W2 [H, N]`, `B2 [N]` and `Y [..., N]`. A program gets
//! the op by linking this crate (`use flopscope_plugin_example as _;`) and calling
//! `flopscope::cli::main()`; see `docs/plugins.md`.

use flopscope_counters::{
    Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, inventory,
};
use flopscope_ir::{Dim, TensorType};

/// The domain the op lives in.
pub const DOMAIN: &str = "com.example";

/// FusedMLP's dims: M rows (every leading dim of X), K inputs, H hidden units, N outputs.
struct Dims {
    m: Dim,
    k: Dim,
    h: Dim,
    n: Dim,
}

/// Whether two dims are known to differ.
fn differ(a: &Dim, b: &Dim) -> bool {
    matches!((a.as_i64(), b.as_i64()), (Some(x), Some(y)) if x != y)
}

/// Reads and checks the operands; `inputs(i)` gives input `i`'s type.
fn dims<'a>(
    input: impl Fn(usize) -> Result<&'a TensorType, OpError>,
) -> Result<(Dims, &'a TensorType), OpError> {
    let (x, w1, b1, w2, b2) = (input(0)?, input(1)?, input(2)?, input(3)?, input(4)?);
    let bad = |what: String| Err(OpError::Invalid(what));
    if x.rank() == 0 || w1.rank() != 2 || w2.rank() != 2 || b1.rank() != 1 || b2.rank() != 1 {
        return bad(format!(
            "FusedMLP needs X [..., K], W1 [K, H], B1 [H], W2 [H, N], B2 [N]; got X {x}, W1 {w1}, \
             B1 {b1}, W2 {w2}, B2 {b2}"
        ));
    }
    let k = &x.shape[x.rank() - 1];
    let (h, n) = (&w1.shape[1], &w2.shape[1]);
    for (a, b, what) in [
        (k, &w1.shape[0], "X's last dim and W1's rows"),
        (h, &b1.shape[0], "W1's columns and B1"),
        (h, &w2.shape[0], "W1's columns and W2's rows"),
        (n, &b2.shape[0], "W2's columns and B2"),
    ] {
        if differ(a, b) {
            return bad(format!("FusedMLP: {what} differ ({a} vs {b})"));
        }
    }
    let m: Dim = x.shape[..x.rank() - 1].iter().product();
    Ok((
        Dims {
            m,
            k: k.clone(),
            h: h.clone(),
            n: n.clone(),
        },
        x,
    ))
}

/// `Y [..., N]` in X's element type.
fn infer(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (d, x) = dims(|i| cx.tensor(i))?;
    let mut shape = x.shape[..x.rank() - 1].to_vec();
    shape.push(d.n);
    cx.set(0, TensorType::new(x.dtype, shape));
    Ok(())
}

/// `macs = M·(K·H + H·N)`; `add = M·(H + N)` (the bias adds); `special = M·H` (the activation).
fn cost(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (Dims { m, k, h, n }, _) = dims(|i| cx.tensor(i))?;
    Ok(Cost::macs(&m * (&k * &h + &h * &n))
        .with_add(&m * (&h + &n))
        .with_special(&m * &h))
}

inventory::submit! {
    OpDef {
        domain: DOMAIN,
        op_type: "FusedMLP",
        class: OpClass::Matmul,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Weight, Role::Bias, Role::Weight, Role::Bias],
        infer,
        cost,
        formula: "macs = M·(K·H + H·N); add = M·(H + N); special = M·H \
                  (M = numel(X)/K, X [..., K], W1 [K, H], W2 [H, N])",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flopscope_ir::DType;

    fn t(shape: &[i64]) -> TensorType {
        TensorType::new(
            DType::Float32,
            shape.iter().map(|&d| Dim::from_i64(d)).collect(),
        )
    }

    #[test]
    fn dims_of_a_batch_of_tokens() {
        let ops = [
            t(&[2, 16, 64]),
            t(&[64, 256]),
            t(&[256]),
            t(&[256, 32]),
            t(&[32]),
        ];
        let (d, _) = dims(|i| Ok(&ops[i])).unwrap();
        assert_eq!(d.m, Dim::from_i64(2 * 16));
        assert_eq!((d.k, d.h, d.n), (64.into(), 256.into(), 32.into()));
    }

    #[test]
    fn mismatched_operands_are_errors_that_say_which() {
        let ops = [
            t(&[2, 16, 60]),
            t(&[64, 256]),
            t(&[256]),
            t(&[256, 32]),
            t(&[32]),
        ];
        let err = dims(|i| Ok(&ops[i])).err().unwrap().to_string();
        assert!(err.contains("X's last dim and W1's rows"), "{err}");
        let ops = [
            t(&[2, 16, 64]),
            t(&[64]),
            t(&[256]),
            t(&[256, 32]),
            t(&[32]),
        ];
        let err = dims(|i| Ok(&ops[i])).err().unwrap().to_string();
        assert!(err.contains("FusedMLP needs"), "{err}");
    }
}
