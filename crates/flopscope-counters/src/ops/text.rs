//! Strings: `StringNormalizer`, `StringSplit`, `StringConcat`, `RegexFullMatch`, and
//! `TfIdfVectorizer`.
//!
//! String processing is not arithmetic: these ops cost 0 FLOPs (their bytes still count), except
//! `TfIdfVectorizer`, whose n-gram counting and weighting produce floats. String elements are
//! never known to shape inference (the IR does not decode them), so sizes that depend on the
//! strings (stop words removed, number of substrings) are fresh symbols.

use flopscope_ir::{DType, Dim, TensorType};

use super::no_flops;
use crate::{Cost, CostCtx, InferCtx, OpDef, OpError, Opsets, Role, broadcast, invalid};

/// `StringNormalizer`: X [C] or [1, C] → the same, less the stop words found (a fresh
/// symbol when there are stop words).
fn infer_string_normalizer(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let mut shape = x.shape.clone();
    match shape.as_slice() {
        [_] => {}
        [one, _] if one.as_i64().is_none_or(|v| v == 1) => {}
        _ => return invalid!("input has shape {}, expected [C] or [1, C]", x),
    }
    let has_stopwords = cx
        .attr::<&[String]>("stopwords")?
        .is_some_and(|s| !s.is_empty());
    if has_stopwords {
        let last = shape.len() - 1;
        // Every element may be a stop word; an empty result keeps one empty string.
        shape[last] = cx.fresh_symbol("kept");
    }
    cx.set(0, TensorType::new(DType::String, shape));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "StringNormalizer",
        opsets: Opsets::since(10),
        roles: &[Role::Data],
        infer: infer_string_normalizer,
        cost: no_flops,
        formula: "0 (string processing)",
    }
}

/// `StringSplit`: X → substrings [*X, max substrings] (data-dependent: a fresh symbol, 0 for
/// an empty X) and length [*X] (int64).
fn infer_string_split(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let mut substrings = x.shape.clone();
    substrings.push(if x.numel().as_i64() == Some(0) {
        Dim::zero()
    } else {
        cx.fresh_symbol("substrings")
    });
    let lengths = x.shape.clone();
    cx.set(0, TensorType::new(DType::String, substrings));
    cx.set(1, TensorType::new(DType::Int64, lengths));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "StringSplit",
        opsets: Opsets::since(20),
        roles: &[Role::Data],
        infer: infer_string_split,
        cost: no_flops,
        formula: "0 (string processing)",
    }
}

/// `StringConcat`: the broadcast of X and Y.
fn infer_string_concat(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let y = cx.tensor(1)?;
    let shape = broadcast(&[&x.shape, &y.shape])?;
    cx.set(0, TensorType::new(DType::String, shape));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "StringConcat",
        opsets: Opsets::since(20),
        roles: &[Role::Data],
        infer: infer_string_concat,
        cost: no_flops,
        formula: "0 (string processing)",
    }
}

/// `RegexFullMatch`: a bool per string.
fn infer_regex_full_match(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let shape = cx.tensor(0)?.shape.clone();
    cx.set(0, TensorType::new(DType::Bool, shape));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "RegexFullMatch",
        opsets: Opsets::since(20),
        roles: &[Role::Data],
        infer: infer_regex_full_match,
        cost: no_flops,
        formula: "0 (string matching)",
    }
}

/// `TfIdfVectorizer`: X [C] or [N, C] → Y [max(ngram_indexes) + 1] or [N, that] (float32).
fn infer_tfidf(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let indexes = cx.req_attr::<&[i64]>("ngram_indexes")?;
    let width = indexes.iter().copied().max().map_or(0, |m| m + 1);
    let mut shape = match x.shape.as_slice() {
        [_] => Vec::new(),
        [n, _] => vec![n.clone()],
        _ => return invalid!("input has shape {}, expected [C] or [N, C]", x),
    };
    shape.push(Dim::from_i64(width));
    cx.set(0, TensorType::new(DType::Float32, shape));
    Ok(())
}

/// Every token position starts one candidate n-gram per length and skip: `lookups =
/// numel(X)·(max_gram_length − min_gram_length + 1)·(max_skip_count + 1)`, each a hashed
/// comparison (`cmp`) and, when found, a count increment (`add`); IDF and TFIDF weight every
/// output element (`mul = numel(Y)`).
fn cost_tfidf(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let y = cx.req_output(0)?;
    let min = cx.req_attr::<i64>("min_gram_length")?;
    let max = cx.req_attr::<i64>("max_gram_length")?;
    let skip = cx.req_attr::<i64>("max_skip_count")?;
    if min < 1 || max < min || skip < 0 {
        return invalid!(
            "n-gram lengths {min}..={max} and max_skip_count {skip} are not a valid range"
        );
    }
    let lookups = x.numel() * ((max - min + 1) * (skip + 1));
    let mut cost = Cost::zero().with_cmp(lookups.clone()).with_add(lookups);
    if cx.req_attr::<&str>("mode")? != "TF" {
        cost = cost.with_mul(y.numel());
    }
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "TfIdfVectorizer",
        opsets: Opsets::since(9),
        roles: &[Role::Data],
        infer: infer_tfidf,
        cost: cost_tfidf,
        formula: "lookups = numel(X)·(max_gram − min_gram + 1)·(max_skip + 1): cmp = add = \
                  lookups; mul = numel(Y) for IDF/TFIDF",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::{Attr, DType, Dim, TensorType};

    use crate::ops::testing::{Case, t};

    fn strings(dims: &[i64]) -> TensorType {
        TensorType::new(
            DType::String,
            dims.iter().map(|&d| Dim::from_i64(d)).collect(),
        )
    }

    #[test]
    fn string_ops_shapes() {
        let r = Case::new("StringNormalizer")
            .input(strings(&[2]))
            .int("is_case_sensitive", 1)
            .opset(10)
            .run();
        assert_eq!(r.shape(0), "[2]");
        assert_eq!(r.dtype(0), DType::String);
        let r = Case::new("StringNormalizer")
            .input(strings(&[1, 6]))
            .attr("stopwords", Attr::Strings(vec!["monday".into()]))
            .opset(10)
            .run();
        assert_eq!(r.shape(0), "[1, node0_kept]");

        let r = Case::new("StringSplit")
            .input(strings(&[2, 2]))
            .int("maxsplit", 2)
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[2, 2, node0_substrings]");
        assert_eq!(r.shape(1), "[2, 2]");
        assert_eq!(r.dtype(1), DType::Int64);
        let r = Case::new("StringSplit")
            .input(strings(&[0]))
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[0, 0]");

        let r = Case::new("StringConcat")
            .input(strings(&[3]))
            .input(strings(&[1]))
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[3]");
        let r = Case::new("RegexFullMatch")
            .input(strings(&[2, 2]))
            .str("pattern", "a+")
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[2, 2]");
        assert_eq!(r.dtype(0), DType::Bool);
        assert_eq!(r.flops_cmp(), 0);
    }

    #[test]
    fn tfidf_by_hand() {
        let r = Case::new("TfIdfVectorizer")
            .input(t("int32", &[2, 6]))
            .int("min_gram_length", 1)
            .int("max_gram_length", 2)
            .int("max_skip_count", 5)
            .str("mode", "TFIDF")
            .ints("ngram_counts", &[0, 4])
            .ints("ngram_indexes", &[0, 1, 2, 3, 4, 5, 6])
            .ints("pool_int64s", &[2, 3, 5, 4, 5, 6, 7, 8, 6, 7])
            .opset(9)
            .run();
        assert_eq!(r.shape(0), "[2, 7]");
        assert_eq!(r.dtype(0), DType::Float32);
        // 12 positions · 2 lengths · 6 skips
        assert_eq!(r.flops_cmp(), 12 * 2 * 6);
        assert_eq!(r.flops_add(), 12 * 2 * 6);
        assert_eq!(r.flops_mul(), 14);
        let r = Case::new("TfIdfVectorizer")
            .input(t("int64", &[12]))
            .int("min_gram_length", 2)
            .int("max_gram_length", 2)
            .int("max_skip_count", 0)
            .str("mode", "TF")
            .ints("ngram_counts", &[0, 0])
            .ints("ngram_indexes", &[0, 1, 2])
            .opset(9)
            .run();
        assert_eq!(r.shape(0), "[3]");
        assert_eq!((r.flops_cmp(), r.flops_mul()), (12, 0));
    }
}
