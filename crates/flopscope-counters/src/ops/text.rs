//! Strings: `StringNormalizer`, `StringSplit`, `StringConcat`, `RegexFullMatch`, and
//! `TfIdfVectorizer`.
//!
//! String processing is not arithmetic: these ops cost 0 FLOPs (their bytes still count), except
//! `TfIdfVectorizer`, whose n-gram counting and weighting produce floats. When the input strings
//! are known before run time (a small initializer, a bound input, a folded constant), the sizes
//! that depend on them (stop words removed, number of substrings) are computed and the output
//! strings folded, so that chains of string ops stay exact; otherwise those sizes are fresh
//! symbols.

use std::collections::HashSet;

use flopscope_ir::{DType, Dim, TensorType, TensorValue};

use super::no_flops;
use crate::{
    Cost, CostCtx, InferCtx, MAX_FOLDED_ELEMENTS, OpClass, OpDef, OpError, Opsets, Role, broadcast,
    invalid,
};

/// Known string elements as text, with the shape they were stored with.
struct KnownText<'a> {
    shape: &'a [usize],
    strs: Vec<&'a str>,
}

/// Input `i`'s known string elements as text; `None` when they are not known or one is not
/// UTF-8 (then nothing is folded).
fn known_text<'a>(cx: &InferCtx<'a>, i: usize) -> Result<Option<KnownText<'a>>, OpError> {
    let Some(value) = cx.value(i)? else {
        return Ok(None);
    };
    let Some(strs) = value.as_strs() else {
        return Ok(None);
    };
    let text: Option<Vec<&str>> = strs.iter().map(|b| std::str::from_utf8(b).ok()).collect();
    Ok(text.map(|strs| KnownText {
        shape: &value.shape,
        strs,
    }))
}

fn dims(shape: &[usize]) -> Vec<Dim> {
    shape.iter().map(|&d| Dim::from_i64(d as i64)).collect()
}

/// `c` in the other case when that is one character (simple case mapping, as per-character
/// runtimes do: `ß` stays `ß` in upper case); otherwise `c` unchanged.
fn simple_case(c: char, upper: bool) -> char {
    fn single(mut it: impl Iterator<Item = char>, c: char) -> char {
        match (it.next(), it.next()) {
            (Some(m), None) => m,
            _ => c,
        }
    }
    if upper {
        single(c.to_uppercase(), c)
    } else {
        single(c.to_lowercase(), c)
    }
}

fn change_case(s: &str, upper: bool) -> String {
    s.chars().map(|c| simple_case(c, upper)).collect()
}

/// `StringNormalizer`: X [C] or [1, C] → the elements of X that are not stop words (compared
/// case-sensitively or after lower-casing both), then lower- or upper-cased per
/// `case_change_action`; an empty result is one empty string ([1] or [1, 1]). With the strings
/// known the result is folded; otherwise the kept count is a fresh symbol when there are stop
/// words. (`locale` is not modelled: case changes use Unicode simple case mappings, which only
/// decides folded elements, never a shape.)
fn infer_string_normalizer(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let mut shape = x.shape.clone();
    match shape.as_slice() {
        [_] => {}
        [one, _] if one.as_i64().is_none_or(|v| v == 1) => {}
        _ => return invalid!("input has shape {}, expected [C] or [1, C]", x),
    }
    let stopwords = cx.attr::<&[String]>("stopwords")?.unwrap_or(&[]);
    let case_sensitive = cx.attr_or("is_case_sensitive", 0i64)? != 0;
    let upper = match cx.attr_or("case_change_action", "NONE")? {
        "NONE" => None,
        "LOWER" => Some(false),
        "UPPER" => Some(true),
        other => {
            return invalid!(
                "case_change_action is \"{other}\", expected \"LOWER\", \"UPPER\" or \"NONE\""
            );
        }
    };
    let last = shape.len() - 1;

    if let Some(KnownText { strs, .. }) = known_text(cx, 0)? {
        let stop: HashSet<String> = stopwords
            .iter()
            .map(|w| {
                if case_sensitive {
                    w.clone()
                } else {
                    change_case(w, false)
                }
            })
            .collect();
        let is_stop = |s: &str| {
            if case_sensitive {
                stop.contains(s)
            } else {
                stop.contains(&change_case(s, false))
            }
        };
        let mut kept: Vec<String> = strs
            .into_iter()
            .filter(|s| !is_stop(s))
            .map(|s| match upper {
                Some(upper) => change_case(s, upper),
                None => s.to_owned(),
            })
            .collect();
        if kept.is_empty() {
            kept.push(String::new());
        }
        let mut out = vec![1; shape.len()];
        out[last] = kept.len();
        cx.set_value(0, TensorValue::strings(out, kept));
        return Ok(());
    }

    if !stopwords.is_empty() {
        // Every element may be a stop word.
        shape[last] = cx.fresh_symbol("kept");
    } else if shape[last].as_i64() == Some(0) {
        // Nothing to keep: the one empty string.
        shape[last] = Dim::one();
    }
    cx.set(0, TensorType::new(DType::String, shape));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "StringNormalizer",
        class: OpClass::Other,
        opsets: Opsets::since(10),
        roles: &[Role::Data],
        infer: infer_string_normalizer,
        cost: no_flops,
        formula: "0 (string processing)",
    }
}

/// Whitespace as Python's `str.split()` sees it: Unicode `White_Space` and the separators
/// U+001C..U+001F.
fn is_split_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The substrings of `s` (see [`infer_string_split`]); at most `maxsplit` splits.
fn split_text<'s>(s: &'s str, delimiter: Option<&str>, maxsplit: Option<usize>) -> Vec<&'s str> {
    match (delimiter, maxsplit) {
        (Some(d), Some(m)) => s.splitn(m.saturating_add(1), d).collect(),
        (Some(d), None) => s.split(d).collect(),
        (None, _) => {
            let mut parts = Vec::new();
            let mut rest = s.trim_start_matches(is_split_space);
            while !rest.is_empty() {
                if maxsplit == Some(parts.len()) {
                    // The unsplit remainder, trailing whitespace and all.
                    parts.push(rest);
                    break;
                }
                let end = rest.find(is_split_space).unwrap_or(rest.len());
                parts.push(&rest[..end]);
                rest = rest[end..].trim_start_matches(is_split_space);
            }
            parts
        }
    }
}

/// `StringSplit`: X → substrings [*X, max substrings] (padded with empty strings) and their
/// counts [*X] (int64). A delimiter splits at each occurrence (consecutive ones delimit empty
/// strings; an empty element is one empty substring); without one (absent or "") runs of
/// whitespace split and leading/trailing whitespace is dropped (an empty or blank element has no
/// substrings). `maxsplit` (negative: unlimited) caps the splits, the rest is the last
/// substring. With the strings known everything is folded; otherwise the last dim is a fresh
/// symbol (0 for an empty X, 1 with a delimiter and `maxsplit` = 0).
fn infer_string_split(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let delimiter = cx.attr::<&str>("delimiter")?.filter(|d| !d.is_empty());
    let maxsplit = cx
        .attr::<i64>("maxsplit")?
        .and_then(|m| usize::try_from(m).ok());

    if let Some(KnownText {
        shape: in_shape,
        strs,
    }) = known_text(cx, 0)?
    {
        let parts: Vec<Vec<&str>> = strs
            .iter()
            .map(|s| split_text(s, delimiter, maxsplit))
            .collect();
        let width = parts.iter().map(Vec::len).max().unwrap_or(0);
        let mut out_shape = in_shape.to_vec();
        out_shape.push(width);
        let total = parts.len().saturating_mul(width);
        if total as u64 <= MAX_FOLDED_ELEMENTS {
            let padded = parts.iter().flat_map(|p| {
                p.iter()
                    .map(|s| (*s).to_owned())
                    .chain(std::iter::repeat_n(String::new(), width - p.len()))
            });
            cx.set_value(0, TensorValue::strings(out_shape, padded));
        } else {
            cx.set(0, TensorType::new(DType::String, dims(&out_shape)));
        }
        let counts = parts
            .iter()
            .map(|p| Dim::from_i64(p.len() as i64))
            .collect();
        cx.set_value(
            1,
            TensorValue::ints(DType::Int64, in_shape.to_vec(), counts),
        );
        return Ok(());
    }

    let mut substrings = x.shape.clone();
    substrings.push(if x.numel().as_i64() == Some(0) {
        Dim::zero()
    } else if delimiter.is_some() && maxsplit == Some(0) {
        Dim::one()
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
        class: OpClass::Other,
        opsets: Opsets::since(20),
        roles: &[Role::Data],
        infer: infer_string_split,
        cost: no_flops,
        formula: "0 (string processing)",
    }
}

/// The broadcast of two concrete shapes, and for each of its elements the flat indices it
/// reads in each input.
struct Pairs {
    shape: Vec<usize>,
    pairs: Vec<(usize, usize)>,
}

/// `None` when the shapes do not broadcast or the result is large.
fn broadcast_pairs(a: &[usize], b: &[usize]) -> Option<Pairs> {
    let rank = a.len().max(b.len());
    let at = |s: &[usize], k: usize| {
        (k + s.len())
            .checked_sub(rank)
            .map_or(1, |j| s.get(j).copied().unwrap_or(1))
    };
    let mut out = Vec::with_capacity(rank);
    for k in 0..rank {
        let (x, y) = (at(a, k), at(b, k));
        out.push(match (x, y) {
            _ if x == y => x,
            (1, _) => y,
            (_, 1) => x,
            _ => return None,
        });
    }
    let n = out.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
    if n as u64 > MAX_FOLDED_ELEMENTS {
        return None;
    }
    // Strides of each input along the output axes (0 where it is broadcast).
    let strides = |s: &[usize]| {
        let mut st = vec![0usize; rank];
        let mut step = 1usize;
        for k in (0..rank).rev() {
            let d = at(s, k);
            if d != 1 {
                st[k] = step;
            }
            step = step.saturating_mul(d);
        }
        st
    };
    let (sa, sb) = (strides(a), strides(b));
    let mut pairs = Vec::with_capacity(n);
    let mut idx = vec![0usize; rank];
    for _ in 0..n {
        let dot = |st: &[usize]| idx.iter().zip(st).map(|(i, s)| i * s).sum::<usize>();
        pairs.push((dot(&sa), dot(&sb)));
        for k in (0..rank).rev() {
            idx[k] += 1;
            if idx[k] < out[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    Some(Pairs { shape: out, pairs })
}

/// The most bytes of strings a fold may make by repeating its inputs (StringConcat's
/// broadcast); other string folds make no more bytes than their inputs hold.
const MAX_FOLDED_STRING_BYTES: usize = 1 << 24;

/// `StringConcat`: the broadcast of X and Y; folded (byte-wise concatenation) when both are
/// known and the result is small.
fn infer_string_concat(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let y = cx.tensor(1)?;
    let shape = broadcast(&[&x.shape, &y.shape])?;
    let known = |i: usize| -> Result<_, OpError> {
        Ok(cx
            .value(i)?
            .and_then(|v| Some((v.shape.as_slice(), v.as_strs()?))))
    };
    if let (Some((xs, xv)), Some((ys, yv))) = (known(0)?, known(1)?)
        && let Some(Pairs { shape: out, pairs }) = broadcast_pairs(xs, ys)
    {
        // Broadcasting repeats strings: bound the bytes folded, not only the element count.
        let size = pairs.iter().try_fold(0usize, |acc, &(i, j)| {
            acc.checked_add(xv.get(i)?.len())?
                .checked_add(yv.get(j)?.len())
                .filter(|&n| n <= MAX_FOLDED_STRING_BYTES)
        });
        let joined: Option<Vec<Vec<u8>>> = size.and_then(|_| {
            pairs
                .iter()
                .map(|&(i, j)| Some([&xv.get(i)?[..], &yv.get(j)?[..]].concat()))
                .collect()
        });
        if let Some(joined) = joined {
            cx.set_value(0, TensorValue::strings(out, joined));
            return Ok(());
        }
    }
    cx.set(0, TensorType::new(DType::String, shape));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "StringConcat",
        class: OpClass::Other,
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
        class: OpClass::Other,
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
        class: OpClass::Other,
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

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|&s| s.to_owned()).collect()
    }

    #[test]
    fn string_split_on_a_delimiter() {
        let r = Case::new("StringSplit")
            .const_strs(&[2], &["abc.com", "def.net.org"])
            .str("delimiter", ".")
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[2, 3]");
        assert_eq!(
            r.strs(0),
            Some((vec![2, 3], owned(&["abc", "com", "", "def", "net", "org"])))
        );
        assert_eq!(r.shape(1), "[2]");
        assert_eq!(r.value(1).as_deref(), Some("[2, 3]"));

        // Consecutive delimiters delimit empty strings, an empty element is one empty
        // substring, and a delimiter of several characters splits without overlap.
        let r = Case::new("StringSplit")
            .const_strs(&[3], &["o-n--x-", "", "a--b"])
            .str("delimiter", "-")
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.value(1).as_deref(), Some("[5, 1, 3]"));
        assert_eq!(r.shape(0), "[3, 5]");
        let r = Case::new("StringSplit")
            .const_strs(&[1], &["a...b"])
            .str("delimiter", "..")
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.strs(0), Some((vec![1, 2], owned(&["a", ".b"]))));
    }

    #[test]
    fn string_split_on_whitespace() {
        // Absent or empty delimiter: runs of (Unicode) whitespace, ends trimmed; a blank or
        // empty element has no substrings. U+00A0 and U+001C separate, U+200B does not.
        for delimiter in [None, Some("")] {
            let mut case = Case::new("StringSplit").const_strs(
                &[2, 2],
                &[" a  b ", "", "\tc\u{a0}d\u{1c}e", "x\u{200b}y  "],
            );
            if let Some(d) = delimiter {
                case = case.str("delimiter", d);
            }
            let r = case.outputs(2).opset(20).run();
            assert_eq!(r.shape(0), "[2, 2, 3]");
            assert_eq!(r.value(1).as_deref(), Some("[2, 0, 3, 1]"));
            assert_eq!(
                r.strs(0).map(|s| s.1),
                Some(owned(&[
                    "a",
                    "b",
                    "",
                    "",
                    "",
                    "",
                    "c",
                    "d",
                    "e",
                    "x\u{200b}y",
                    "",
                    ""
                ]))
            );
        }
        // All blank: no substrings at all.
        let r = Case::new("StringSplit")
            .const_strs(&[2], &["", "  "])
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[2, 0]");
        assert_eq!(r.value(1).as_deref(), Some("[0, 0]"));
    }

    #[test]
    fn string_split_maxsplit() {
        // Whitespace: after `maxsplit` splits the rest (trailing blanks kept) is one substring.
        let r = Case::new("StringSplit")
            .const_strs(&[2, 2], &["hello world", "def.net", "o n n x", " a  b c "])
            .int("maxsplit", 1)
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[2, 2, 2]");
        assert_eq!(r.value(1).as_deref(), Some("[2, 1, 2, 2]"));
        assert_eq!(
            r.strs(0).map(|s| s.1),
            Some(owned(&[
                "hello", "world", "def.net", "", "o", "n n x", "a", "b c "
            ]))
        );
        // With a delimiter: 0 splits keeps each element whole, negative is unlimited.
        let r = Case::new("StringSplit")
            .const_strs(&[1], &["a.b.c"])
            .str("delimiter", ".")
            .int("maxsplit", 0)
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.strs(0), Some((vec![1, 1], owned(&["a.b.c"]))));
        let r = Case::new("StringSplit")
            .const_strs(&[1], &["a.b.c"])
            .str("delimiter", ".")
            .int("maxsplit", -1)
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[1, 3]");
        // Unknown strings: maxsplit 0 with a delimiter still gives one substring each.
        let r = Case::new("StringSplit")
            .input(strings(&[4]))
            .str("delimiter", ",")
            .int("maxsplit", 0)
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[4, 1]");
    }

    #[test]
    fn string_split_scalar_and_empty_inputs() {
        let r = Case::new("StringSplit")
            .const_strs(&[], &["to be or"])
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[3]");
        assert_eq!((r.shape(1), r.value(1)), ("[]".into(), Some("[3]".into())));
        let r = Case::new("StringSplit")
            .const_strs(&[2, 0], &[])
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[2, 0, 0]");
        assert_eq!(r.shape(1), "[2, 0]");
    }

    #[test]
    fn string_normalizer_removes_known_stopwords() {
        // Case-sensitive: only the exact "monday" goes.
        let r = Case::new("StringNormalizer")
            .const_strs(&[4], &["monday", "Monday", "tuesday", "a monday"])
            .attr("stopwords", Attr::Strings(vec!["monday".into()]))
            .int("is_case_sensitive", 1)
            .opset(10)
            .run();
        assert_eq!(r.shape(0), "[3]");
        assert_eq!(
            r.strs(0),
            Some((vec![3], owned(&["Monday", "tuesday", "a monday"])))
        );
        // Case-insensitive (the default), then upper-cased; [1, C] stays two-dimensional.
        let r = Case::new("StringNormalizer")
            .const_strs(&[1, 5], &["Monday", "TUESDAY", "x", "MONDAY", "straße"])
            .attr("stopwords", Attr::Strings(vec!["monday".into()]))
            .str("case_change_action", "UPPER")
            .opset(10)
            .run();
        assert_eq!(r.shape(0), "[1, 3]");
        assert_eq!(
            r.strs(0).map(|s| s.1),
            Some(owned(&["TUESDAY", "X", "STRAßE"]))
        );
        // Stop words are matched before the case change: "MONDAY" is not a case-sensitive
        // match of "monday" even when lower-casing.
        let r = Case::new("StringNormalizer")
            .const_strs(&[2], &["MONDAY", "monday"])
            .attr("stopwords", Attr::Strings(vec!["monday".into()]))
            .int("is_case_sensitive", 1)
            .str("case_change_action", "LOWER")
            .opset(10)
            .run();
        assert_eq!(r.strs(0), Some((vec![1], owned(&["monday"]))));
    }

    #[test]
    fn string_normalizer_empty_results() {
        // Everything removed: one empty string, [1] or [1, 1].
        let r = Case::new("StringNormalizer")
            .const_strs(&[2], &["monday", "MONDAY"])
            .attr("stopwords", Attr::Strings(vec!["Monday".into()]))
            .opset(10)
            .run();
        assert_eq!(r.strs(0), Some((vec![1], owned(&[""]))));
        let r = Case::new("StringNormalizer")
            .const_strs(&[1, 2], &["a", "b"])
            .attr("stopwords", Attr::Strings(vec!["a".into(), "b".into()]))
            .opset(10)
            .run();
        assert_eq!(r.shape(0), "[1, 1]");
        // An empty X, known or not.
        let r = Case::new("StringNormalizer")
            .input(strings(&[0]))
            .opset(10)
            .run();
        assert_eq!(r.shape(0), "[1]");
        let r = Case::new("StringNormalizer")
            .const_strs(&[1, 0], &[])
            .opset(10)
            .run();
        assert_eq!(r.shape(0), "[1, 1]");
        // No stop words: the strings, case changed.
        let r = Case::new("StringNormalizer")
            .const_strs(&[2], &["Ab", "CD"])
            .str("case_change_action", "LOWER")
            .opset(10)
            .run();
        assert_eq!(r.strs(0), Some((vec![2], owned(&["ab", "cd"]))));
        let err = Case::new("StringNormalizer")
            .input(strings(&[2]))
            .str("case_change_action", "TITLE")
            .opset(10)
            .run_err();
        assert!(err.contains("TITLE"), "{err}");
    }

    #[test]
    fn known_strings_flow_through_chains() {
        // Normalize (drop "the", lower-case), then split each kept element on whitespace.
        let r = Case::new("StringNormalizer")
            .const_strs(&[3], &["The", "Quick Brown", "fox"])
            .attr("stopwords", Attr::Strings(vec!["the".into()]))
            .str("case_change_action", "LOWER")
            .then("StringSplit")
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[2, 2]");
        assert_eq!(
            r.strs(0).map(|s| s.1),
            Some(owned(&["quick", "brown", "fox", ""]))
        );
        // Concat broadcasts and joins; the split then sees the joined strings.
        let r = Case::new("StringConcat")
            .const_strs(&[2, 1], &["a b", "c"])
            .const_strs(&[3], &[" d", "", " e f"])
            .then("StringSplit")
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[2, 3, 4]");
        assert_eq!(r.value(1).as_deref(), Some("[3, 2, 4, 2, 1, 3]"));
        // A Constant's strings.
        let r = Case::new("Constant")
            .attr(
                "value_strings",
                Attr::Strings(vec!["x,y,z".into(), "w".into()]),
            )
            .then("StringSplit")
            .str("delimiter", ",")
            .outputs(2)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[2, 3]");
    }

    #[test]
    fn string_concat_folds_known_strings() {
        let r = Case::new("StringConcat")
            .const_strs(&[3], &["cat", "dog", ""])
            .const_strs(&[1], &["s"])
            .opset(20)
            .run();
        assert_eq!(r.strs(0), Some((vec![3], owned(&["cats", "dogs", "s"]))));
        let r = Case::new("StringConcat")
            .const_strs(&[], &["的"])
            .const_strs(&[], &["中"])
            .opset(20)
            .run();
        assert_eq!(r.strs(0), Some((vec![], owned(&["的中"]))));
        // A long string repeated past the byte budget: the shape only.
        let long = "x".repeat(1 << 20);
        let many = vec![""; 32];
        let r = Case::new("StringConcat")
            .const_strs(&[1], &[long.as_str()])
            .const_strs(&[32], &many)
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[32]");
        assert_eq!(r.strs(0), None);
        // One side unknown: the broadcast shape only.
        let r = Case::new("StringConcat")
            .const_strs(&[1], &["x"])
            .input(strings(&[2, 3]))
            .opset(20)
            .run();
        assert_eq!(r.shape(0), "[2, 3]");
        assert_eq!(r.strs(0), None);
    }
}
