//! Einsum: any equation, with implicit or explicit output, `...` broadcasting and repeated
//! indices (diagonals).
//!
//! Cost: with P the product of the sizes of every distinct index (the ellipsis dims
//! included), an equation that sums some index is a contraction of `(operands − 1)·P` MACs; a
//! single operand that sums an index is a reduction of `P − numel(Y)` adds; an equation that
//! sums nothing multiplies elementwise, `(operands − 1)·numel(Y)` muls (0 for a transpose or a
//! diagonal).

use std::collections::BTreeMap;

use flopscope_ir::{Dim, TensorType};

use crate::{
    Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, broadcast, invalid, product,
};

/// One side of an equation term: its letters in order, and where the ellipsis sits (the
/// number of letters before it).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    letters: Vec<char>,
    ellipsis: Option<usize>,
}

fn parse_term(s: &str, equation: &str) -> Result<Term, OpError> {
    let mut letters = Vec::new();
    let mut ellipsis = None;
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("...") {
            if ellipsis.is_some() {
                return invalid!("equation `{equation}`: term `{s}` has two ellipses");
            }
            ellipsis = Some(letters.len());
            rest = after;
        } else if c.is_ascii_alphabetic() {
            letters.push(c);
            rest = &rest[1..];
        } else {
            return invalid!("equation `{equation}`: unexpected `{c}` in term `{s}`");
        }
    }
    Ok(Term { letters, ellipsis })
}

/// A parsed equation: the input terms and the output term (explicit, or the implicit one).
#[derive(Debug)]
struct Equation {
    inputs: Vec<Term>,
    output: Term,
}

fn parse_equation(equation: &str) -> Result<Equation, OpError> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let inputs = lhs
        .split(',')
        .map(|t| parse_term(t, equation))
        .collect::<Result<Vec<_>, _>>()?;
    let output = match rhs {
        Some(r) => {
            let out = parse_term(r, equation)?;
            for (i, c) in out.letters.iter().enumerate() {
                if out.letters[..i].contains(c) {
                    return invalid!("equation `{equation}`: output repeats index `{c}`");
                }
                if !inputs.iter().any(|t| t.letters.contains(c)) {
                    return invalid!("equation `{equation}`: output index `{c}` is in no input");
                }
            }
            out
        }
        None => {
            // Implicit: the ellipsis first, then the indices seen exactly once, sorted.
            let mut counts: BTreeMap<char, usize> = BTreeMap::new();
            for t in &inputs {
                for &c in &t.letters {
                    *counts.entry(c).or_default() += 1;
                }
            }
            let any_ellipsis = inputs.iter().any(|t| t.ellipsis.is_some());
            Term {
                letters: counts
                    .into_iter()
                    .filter(|&(_, n)| n == 1)
                    .map(|(c, _)| c)
                    .collect(),
                ellipsis: any_ellipsis.then_some(0),
            }
        }
    };
    Ok(Equation { inputs, output })
}

/// The sizes of every index, the broadcast ellipsis dims, and the output shape.
#[derive(Debug)]
struct Resolved {
    sizes: BTreeMap<char, Dim>,
    ellipsis: Vec<Dim>,
    output: Vec<Dim>,
    /// Whether some index (or ellipsis dim) is summed away.
    sums: bool,
}

fn resolve(eq: &Equation, shapes: &[&TensorType], equation: &str) -> Result<Resolved, OpError> {
    if eq.inputs.len() != shapes.len() {
        return invalid!(
            "equation `{equation}` has {} operands but the node has {} inputs",
            eq.inputs.len(),
            shapes.len()
        );
    }
    let mut sizes: BTreeMap<char, Dim> = BTreeMap::new();
    let mut ellipses: Vec<&[Dim]> = Vec::new();
    for (term, x) in eq.inputs.iter().zip(shapes) {
        let letters = term.letters.len();
        let fits = match term.ellipsis {
            Some(_) => x.rank() >= letters,
            None => x.rank() == letters,
        };
        if !fits {
            return invalid!(
                "equation `{equation}`: operand {} has rank {} but its term has {letters} indices{}",
                x,
                x.rank(),
                if term.ellipsis.is_some() {
                    " and an ellipsis"
                } else {
                    ""
                }
            );
        }
        let span = x.rank() - letters;
        let (before, after) = match term.ellipsis {
            Some(at) => {
                ellipses.push(&x.shape[at..at + span]);
                (at, at + span)
            }
            None => (letters, letters),
        };
        for (j, &c) in term.letters.iter().enumerate() {
            let d = if j < before {
                &x.shape[j]
            } else {
                &x.shape[after + j - before]
            };
            let merged = match sizes.get(&c) {
                Some(prev) => broadcast(&[std::slice::from_ref(prev), std::slice::from_ref(d)])
                    .map_err(|_| {
                        OpError::Invalid(format!(
                            "equation `{equation}`: index `{c}` is {prev} and {d}"
                        ))
                    })?
                    .remove(0),
                None => d.clone(),
            };
            sizes.insert(c, merged);
        }
    }
    let ellipsis = broadcast(&ellipses)?;
    let mut output = Vec::new();
    let out = &eq.output;
    for (j, c) in out.letters.iter().enumerate() {
        if out.ellipsis == Some(j) {
            output.extend(ellipsis.iter().cloned());
        }
        output.push(sizes.get(c).cloned().unwrap_or_else(Dim::one));
    }
    if out.ellipsis == Some(out.letters.len()) {
        output.extend(ellipsis.iter().cloned());
    }
    let sums = sizes.keys().any(|c| !out.letters.contains(c))
        || (out.ellipsis.is_none() && !ellipsis.is_empty());
    Ok(Resolved {
        sizes,
        ellipsis,
        output,
        sums,
    })
}

fn infer_einsum(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let equation: &str = cx.req_attr("equation")?;
    let eq = parse_equation(equation)?;
    let mut shapes = Vec::with_capacity(cx.input_count());
    for i in 0..cx.input_count() {
        shapes.push(cx.tensor(i)?);
    }
    if shapes.is_empty() {
        return invalid!("Einsum needs at least one input");
    }
    let r = resolve(&eq, &shapes, equation)?;
    let dtype = shapes[0].dtype;
    cx.set(0, TensorType::new(dtype, r.output));
    Ok(())
}

fn cost_einsum(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let equation: &str = cx.req_attr("equation")?;
    let eq = parse_equation(equation)?;
    let mut shapes = Vec::with_capacity(cx.input_count());
    for i in 0..cx.input_count() {
        shapes.push(cx.tensor(i)?);
    }
    let r = resolve(&eq, &shapes, equation)?;
    let operands = shapes.len() as i64;
    let out = product(&r.output);
    if r.sums {
        let all = product(r.sizes.values()) * product(&r.ellipsis);
        if operands == 1 {
            Ok(Cost::zero().with_add(all - out))
        } else {
            Ok(Cost::macs(all * (operands - 1)))
        }
    } else {
        Ok(Cost::zero().with_mul(out * (operands - 1).max(0)))
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Einsum",
        class: OpClass::Matmul,
        opsets: Opsets::since(12),
        roles: &[Role::Data],
        infer: infer_einsum,
        cost: cost_einsum,
        formula: "some index summed: macs = (operands − 1)·P, P = ∏ sizes of all distinct indices \
                  (one operand: add = P − numel(Y)); none summed: mul = (operands − 1)·numel(Y)",
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Case, t};

    fn einsum(eq: &str, shapes: &[&[i64]]) -> Case {
        let mut c = Case::new("Einsum").str("equation", eq);
        for s in shapes {
            c = c.input(t("float32", s));
        }
        c
    }

    #[test]
    fn batch_matmul() {
        let r = einsum("bij, bjk -> bik", &[&[5, 2, 3], &[5, 3, 4]]).run();
        assert_eq!(r.shape(0), "[5, 2, 4]");
        // Distinct indices b, i, j, k: 5·2·3·4, one product per combination.
        assert_eq!(r.macs(), 5 * 2 * 3 * 4);
    }

    #[test]
    fn implicit_output_is_sorted_singletons() {
        let r = einsum("ij,jk", &[&[2, 3], &[3, 4]]).run();
        assert_eq!(r.shape(0), "[2, 4]");
        let r = einsum("ba", &[&[2, 3]]).run();
        assert_eq!(r.shape(0), "[3, 2]", "implicit output sorts: ab");
        assert_eq!((r.macs(), r.flops_mul(), r.flops_add()), (0, 0, 0));
        let r = einsum("i,i", &[&[5], &[5]]).run();
        assert_eq!(r.shape(0), "[]");
        assert_eq!(r.macs(), 5);
    }

    #[test]
    fn ellipsis_broadcasts() {
        let r = einsum("...ij,...jk->...ik", &[&[2, 1, 3, 4], &[7, 4, 5]]).run();
        assert_eq!(r.shape(0), "[2, 7, 3, 5]");
        assert_eq!(r.macs(), 2 * 7 * 3 * 4 * 5);
        // Implicit output puts the ellipsis first.
        let r = einsum("...ii", &[&[3, 5, 5]]).run();
        assert_eq!(r.shape(0), "[3]");
        assert_eq!(
            r.flops_add(),
            3 * 5 - 3,
            "a batched trace sums the diagonal"
        );
        let r = einsum("...ii ->...i", &[&[3, 5, 5]]).run();
        assert_eq!(r.shape(0), "[3, 5]");
        assert_eq!(r.flops_add(), 0, "a diagonal is data movement");
    }

    #[test]
    fn reductions_and_products() {
        let r = einsum("ij->i", &[&[3, 4]]).run();
        assert_eq!(r.shape(0), "[3]");
        assert_eq!(r.flops_add(), 12 - 3);
        let r = einsum("->", &[&[]]).run();
        assert_eq!(r.shape(0), "[]");
        // Outer product: nothing summed, one mul per output.
        let r = einsum("i,j->ij", &[&[3], &[4]]).run();
        assert_eq!(r.shape(0), "[3, 4]");
        assert_eq!((r.macs(), r.flops_mul()), (0, 12));
        // Three operands, one contracted index.
        let r = einsum("ij,jk,kl->il", &[&[2, 3], &[3, 4], &[4, 5]]).run();
        assert_eq!(r.shape(0), "[2, 5]");
        assert_eq!(r.macs(), 2 * (2 * 3 * 4 * 5));
    }

    #[test]
    fn symbolic_dims() {
        let r = Case::new("Einsum")
            .str("equation", "bhqd,bhkd->bhqk")
            .input_sym("float32", &["b", "8", "s", "64"])
            .input_sym("float32", &["b", "8", "s", "64"])
            .run();
        assert_eq!(r.shape(0), "[b, 8, s, s]");
        assert_eq!(r.macs_expr(), "512*b*s*s");
    }

    #[test]
    fn bad_equations() {
        let err = einsum("ij,jk->ik", &[&[2, 3]]).run_err();
        assert!(err.contains("2 operands"), "{err}");
        let err = einsum("ijk->i", &[&[2, 3]]).run_err();
        assert!(err.contains("rank 2"), "{err}");
        let err = einsum("ij,jk->ik", &[&[2, 3], &[4, 5]]).run_err();
        assert!(err.contains("index `j`"), "{err}");
        let err = einsum("ij->iz", &[&[2, 3]]).run_err();
        assert!(err.contains("`z`"), "{err}");
    }
}
