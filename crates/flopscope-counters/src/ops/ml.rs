//! `ai.onnx.ml`: classical machine-learning ops (scikit-learn style pipelines).
//!
//! Models here keep their parameters in attributes (coefficients, trees, support vectors), so
//! their params are not counted (params are initializers); their arithmetic is. Batched inputs
//! are [N, C] (a [C] input is one example). Classifiers output labels [N] (int64 or string)
//! and scores [N, classes] (float32). Post-transforms on scores: SOFTMAX / SOFTMAX_ZERO as
//! `Softmax` (`special = n`, `add = n − rows`, `div = n`), LOGISTIC `special`, `add`, `div`
//! per score, PROBIT one `special` per score.
//!
//! `ZipMap` (and the map-input `CastMap`, `DictVectorizer`) need map types, which the IR does
//! not have: `ZipMap` is registered to say so clearly.

use flopscope_ir::{ConstTensor, DType, Dim, TensorType};

use super::no_flops;
use crate::{Cost, CostCtx, InferCtx, OpClass, OpDef, OpError, Opsets, Role, invalid};

const ML: &str = "ai.onnx.ml";

/// (N, C) of a [N, C] or [C] input.
fn batch_and_features(x: &TensorType) -> Result<(Dim, Dim), OpError> {
    match x.shape.as_slice() {
        [c] => Ok((Dim::one(), c.clone())),
        [n, c] => Ok((n.clone(), c.clone())),
        _ => invalid!("input X has shape {}, expected [N, C] or [C]", x),
    }
}

/// The cost of a post-transform over `n` scores in `rows` rows.
fn post_transform(name: &str, n: &Dim, rows: &Dim) -> Result<Cost, OpError> {
    let z = Cost::zero();
    Ok(match name {
        "NONE" | "" => z,
        "SOFTMAX" | "SOFTMAX_ZERO" => z
            .with_special(n.clone())
            .with_add(n - rows)
            .with_div(n.clone()),
        "LOGISTIC" => z
            .with_special(n.clone())
            .with_add(n.clone())
            .with_div(n.clone()),
        "PROBIT" => z.with_special(n.clone()),
        other => {
            return invalid!(
                "post_transform `{other}` is not one of NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT"
            );
        }
    })
}

/// The post-transform of the newer ops, given as an int.
fn post_transform_code(code: i64) -> Result<&'static str, OpError> {
    Ok(match code {
        0 => "NONE",
        1 => "SOFTMAX",
        2 => "LOGISTIC",
        3 => "SOFTMAX_ZERO",
        4 => "PROBIT",
        other => return invalid!("post_transform {other} is not in 0..=4"),
    })
}

/// Labels [N] and scores [N, classes] of a classifier; the label type follows the
/// `classlabels_*` attribute that is given.
fn set_classifier_outputs(cx: &mut InferCtx<'_>, n: Dim, ints_attr: &str) -> Result<(), OpError> {
    let strings = cx.attr::<&[String]>("classlabels_strings")?;
    let ints = cx.attr::<&[i64]>(ints_attr)?;
    let (dtype, classes) = match (strings, ints) {
        (Some(s), _) if !s.is_empty() => (DType::String, s.len()),
        (_, Some(i)) => (DType::Int64, i.len()),
        _ => return invalid!("one of classlabels_strings and {ints_attr} must be given"),
    };
    cx.set(0, TensorType::new(dtype, vec![n.clone()]));
    cx.set(
        1,
        TensorType::new(DType::Float32, vec![n, Dim::from_i64(classes as i64)]),
    );
    Ok(())
}

/// Same type and shape as X.
fn same(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    super::same_as_input(cx)
}

/// X's shape with another element type.
fn same_shape_as(cx: &mut InferCtx<'_>, dtype: DType) -> Result<(), OpError> {
    let shape = cx.tensor(0)?.shape.clone();
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

/// `ArrayFeatureExtractor`: X [..., C], indices Y → Z [..., numel(Y)] ([1, numel(Y)] for a
/// 1-D X).
fn infer_array_feature_extractor(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let k = cx.tensor(1)?.numel();
    let mut shape = match x.rank() {
        0 => return invalid!("input X is a scalar"),
        1 => vec![Dim::one()],
        r => x.shape[..r - 1].to_vec(),
    };
    shape.push(k);
    let dtype = x.dtype;
    cx.set(0, TensorType::new(dtype, shape));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "ArrayFeatureExtractor",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data, Role::Config],
        infer: infer_array_feature_extractor,
        cost: no_flops,
        formula: "0 (gather)",
    }
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "Binarizer",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: same,
        cost: |cx| Ok(Cost::zero().with_cmp(cx.req_output(0)?.numel())),
        formula: "cmp = numel(Y)",
    }
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "Imputer",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: same,
        cost: |cx| Ok(Cost::zero().with_cmp(cx.req_output(0)?.numel())),
        formula: "cmp = numel(Y) (is it the value to replace)",
    }
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "Scaler",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| same_shape_as(cx, DType::Float32),
        cost: |cx| {
            let n = cx.req_output(0)?.numel();
            Ok(Cost::zero().with_add(n.clone()).with_mul(n))
        },
        formula: "(x − offset)·scale: add = mul = numel(Y)",
    }
}

/// `Normalizer` over each row: MAX `cmp = numel − rows` (the max) and a `div` per element;
/// L1 adds `cmp` (abs) per element and `add = numel − rows`; L2 `mul` (square) per element,
/// `add = numel − rows`, `special = rows` (sqrt); both then `div` per element.
fn cost_normalizer(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let x = cx.tensor(0)?;
    let (rows, _) = batch_and_features(x)?;
    let n = x.numel();
    let reduce = &n - &rows;
    let cost = Cost::zero().with_div(n.clone());
    Ok(match cx.attr_or::<&str>("norm", "MAX")? {
        "MAX" => cost.with_cmp(reduce),
        "L1" => cost.with_cmp(n).with_add(reduce),
        "L2" => cost.with_mul(n).with_add(reduce).with_special(rows),
        other => return invalid!("norm `{other}` is not one of MAX, L1, L2"),
    })
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "Normalizer",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| {
            batch_and_features(cx.tensor(0)?)?;
            same_shape_as(cx, DType::Float32)
        },
        cost: cost_normalizer,
        formula: "div = numel(X); MAX: cmp = numel − rows; L1: cmp = numel, add = numel − rows; \
                  L2: mul = numel, add = numel − rows, special = rows",
    }
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "CategoryMapper",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| {
            let dtype = if cx.tensor(0)?.dtype == DType::String {
                DType::Int64
            } else {
                DType::String
            };
            same_shape_as(cx, dtype)
        },
        cost: no_flops,
        formula: "0 (lookup)",
    }
}

/// `LabelEncoder`: X's shape; the type of the values (`values_tensor`, `values_strings`,
/// `values_int64s`, `values_floats`), or for version 1 the other of string and int64.
fn infer_label_encoder(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let dtype = if let Some(t) = cx.attr::<&ConstTensor>("values_tensor")? {
        t.dtype
    } else if cx.attr::<&[String]>("values_strings")?.is_some() {
        DType::String
    } else if cx.attr::<&[i64]>("values_int64s")?.is_some() {
        DType::Int64
    } else if cx.attr::<&[f32]>("values_floats")?.is_some() {
        DType::Float32
    } else if cx.tensor(0)?.dtype == DType::String {
        DType::Int64
    } else {
        DType::String
    };
    same_shape_as(cx, dtype)
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "LabelEncoder",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_label_encoder,
        cost: no_flops,
        formula: "0 (lookup)",
    }
}

/// `OneHotEncoder`: X [...] → [..., categories] (float32).
fn infer_one_hot_encoder(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let cats = match (
        cx.attr::<&[i64]>("cats_int64s")?,
        cx.attr::<&[String]>("cats_strings")?,
    ) {
        (Some(c), None) => c.len(),
        (None, Some(c)) => c.len(),
        _ => return invalid!("exactly one of cats_int64s and cats_strings must be given"),
    };
    let mut shape = cx.tensor(0)?.shape.clone();
    shape.push(Dim::from_i64(cats as i64));
    cx.set(0, TensorType::new(DType::Float32, shape));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "OneHotEncoder",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_one_hot_encoder,
        cost: no_flops,
        formula: "0 (lookup)",
    }
}

/// `FeatureVectorizer`: inputs [N, C_i] → [N, Σ inputdimensions] (float32).
fn infer_feature_vectorizer(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let first = cx.tensor(0)?;
    let (n, _) = batch_and_features(first)?;
    let width = match cx.attr::<&[i64]>("inputdimensions")? {
        Some(dims) => Dim::from_i64(dims.iter().sum()),
        None => {
            let mut total = Dim::zero();
            for i in 0..cx.input_count() {
                if let Some(t) = cx.opt_tensor(i)? {
                    total += batch_and_features(t)?.1;
                }
            }
            total
        }
    };
    cx.set(0, TensorType::new(DType::Float32, vec![n, width]));
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "FeatureVectorizer",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_feature_vectorizer,
        cost: no_flops,
        formula: "0 (concatenation)",
    }
}

/// `LinearRegressor`: X [N, C] → Y [N, targets].
fn infer_linear_regressor(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (n, _) = batch_and_features(cx.tensor(0)?)?;
    let targets = cx.attr_or("targets", 1i64)?;
    cx.set(
        0,
        TensorType::new(DType::Float32, vec![n, Dim::from_i64(targets)]),
    );
    Ok(())
}

fn cost_linear_regressor(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (n, c) = batch_and_features(cx.tensor(0)?)?;
    let y = cx.req_output(0)?.numel();
    let targets = cx.attr_or("targets", 1i64)?;
    let mut cost = Cost::macs(&n * &c * targets);
    if cx.attr::<&[f32]>("intercepts")?.is_some() {
        cost = cost.with_add(y.clone());
    }
    cost += &post_transform(cx.attr_or("post_transform", "NONE")?, &y, &n)?;
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "LinearRegressor",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_linear_regressor,
        cost: cost_linear_regressor,
        formula: "macs = N·C·targets; add = numel(Y) with intercepts; post_transform",
    }
}

/// Classes scored by a linear model: `len(coefficients)/C`.
fn linear_classes(cx: &CostCtx<'_>, c: &Dim) -> Result<Dim, OpError> {
    let coefficients = cx.req_attr::<&[f32]>("coefficients")?.len() as i64;
    Ok(Dim::from_i64(coefficients)
        .div_exact(c)
        .unwrap_or_else(|| Dim::from_i64(1)))
}

fn cost_linear_classifier(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (n, c) = batch_and_features(cx.tensor(0)?)?;
    let scores = cx.req_output(1).or_else(|_| cx.req_output(0))?;
    let width = scores.shape.last().cloned().unwrap_or_else(Dim::one);
    let e = linear_classes(cx, &c)?;
    let mut cost = Cost::macs(&n * &c * &e);
    if cx.attr::<&[f32]>("intercepts")?.is_some() {
        cost = cost.with_add(&n * &e);
    }
    let z = &n * &width;
    cost += &post_transform(cx.attr_or("post_transform", "NONE")?, &z, &n)?;
    Ok(cost.with_cmp(n * (width - 1)))
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "LinearClassifier",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| {
            let (n, _) = batch_and_features(cx.tensor(0)?)?;
            set_classifier_outputs(cx, n, "classlabels_ints")
        },
        cost: cost_linear_classifier,
        formula: "E = len(coefficients)/C: macs = N·C·E; add = N·E with intercepts; \
                  post_transform on N·classes; cmp = N·(classes − 1) (argmax)",
    }
}

/// The cost of `evals` kernel evaluations on C features.
fn kernel_cost(kernel: &str, evals: &Dim, c: &Dim) -> Result<Cost, OpError> {
    let dots = Cost::macs(evals * c);
    Ok(match kernel {
        "LINEAR" => dots,
        // gamma·dot + coef0, then pow / tanh.
        "POLY" | "SIGMOID" => dots
            .with_mul(evals.clone())
            .with_add(evals.clone())
            .with_special(evals.clone()),
        // exp(−gamma·|x − s|²): a difference per feature, then the squared norm.
        "RBF" => dots
            .with_add(evals * c)
            .with_mul(evals.clone())
            .with_special(evals.clone()),
        other => return invalid!("kernel_type `{other}` is not one of LINEAR, POLY, RBF, SIGMOID"),
    })
}

/// Support vectors (`len(support_vectors)/C`), 0 for a linear SVM.
fn support_vectors(cx: &CostCtx<'_>, c: &Dim) -> Result<Dim, OpError> {
    let count = cx
        .attr::<&[f32]>("support_vectors")?
        .map_or(0, |v| v.len() as i64);
    Ok(Dim::from_i64(count).div_exact(c).unwrap_or_else(Dim::zero))
}

/// `SVMClassifier` scores: classes, or for one-vs-one raw scores of more than 2 classes one
/// per pair of classes.
fn infer_svm_classifier(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let (n, _) = batch_and_features(cx.tensor(0)?)?;
    set_classifier_outputs(cx, n.clone(), "classlabels_ints")?;
    let classes = cx
        .attr::<&[String]>("classlabels_strings")?
        .filter(|s| !s.is_empty())
        .map(<[String]>::len)
        .or(cx.attr::<&[i64]>("classlabels_ints")?.map(<[i64]>::len))
        .unwrap_or(0) as i64;
    let svc = cx.attr::<&[i64]>("vectors_per_class")?.is_some();
    let probabilities = cx.attr::<&[f32]>("prob_a")?.is_some_and(|p| !p.is_empty());
    if svc && !probabilities && classes > 2 {
        let pairs = classes * (classes - 1) / 2;
        cx.set(
            1,
            TensorType::new(DType::Float32, vec![n, Dim::from_i64(pairs)]),
        );
    }
    Ok(())
}

/// Kernel evaluations against every support vector (`N·SV`), then one-vs-one decisions
/// (`macs = N·(classes − 1)·SV`, `add = cmp = N·pairs` for rho and votes); a linear SVM is
/// `macs = N·C·classes` and `add = N·classes`.
fn cost_svm_classifier(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (n, c) = batch_and_features(cx.tensor(0)?)?;
    let scores = cx.req_output(1).or_else(|_| cx.req_output(0))?;
    let width = scores.shape.last().cloned().unwrap_or_else(Dim::one);
    let classes = cx
        .attr::<&[String]>("classlabels_strings")?
        .filter(|s| !s.is_empty())
        .map(<[String]>::len)
        .or(cx.attr::<&[i64]>("classlabels_ints")?.map(<[i64]>::len))
        .unwrap_or(0) as i64;
    let sv = support_vectors(cx, &c)?;
    let mut cost = if cx.attr::<&[i64]>("vectors_per_class")?.is_some() {
        let pairs = classes * (classes - 1) / 2;
        let mut k = kernel_cost(cx.attr_or("kernel_type", "LINEAR")?, &(&n * &sv), &c)?;
        k.macs += &n * (classes - 1).max(1) * &sv;
        k.with_add(&n * pairs).with_cmp(&n * pairs)
    } else {
        Cost::macs(&n * &c * classes.max(1)).with_add(&n * classes.max(1))
    };
    cost += &post_transform(cx.attr_or("post_transform", "NONE")?, &(&n * &width), &n)?;
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "SVMClassifier",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: infer_svm_classifier,
        cost: cost_svm_classifier,
        formula: "SV = support vectors: kernel on N·SV pairs (macs = N·SV·C + kernel terms), \
                  macs += N·(classes − 1)·SV, add = cmp = N·classes·(classes − 1)/2; linear: \
                  macs = N·C·classes, add = N·classes; post_transform",
    }
}

fn cost_svm_regressor(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (n, c) = batch_and_features(cx.tensor(0)?)?;
    let sv = support_vectors(cx, &c)?;
    let mut cost = if cx.attr_or("n_supports", 0i64)? > 0 {
        let mut k = kernel_cost(cx.attr_or("kernel_type", "LINEAR")?, &(&n * &sv), &c)?;
        k.macs += &n * &sv;
        k
    } else {
        Cost::macs(&n * &c)
    };
    cost = cost.with_add(n.clone());
    if cx.attr_or("one_class", 0i64)? != 0 {
        cost = cost.with_cmp(n.clone());
    }
    cost += &post_transform(cx.attr_or("post_transform", "NONE")?, &n, &n)?;
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "SVMRegressor",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| {
            let (n, _) = batch_and_features(cx.tensor(0)?)?;
            cx.set(0, TensorType::new(DType::Float32, vec![n, Dim::one()]));
            Ok(())
        },
        cost: cost_svm_regressor,
        formula: "kernel on N·SV pairs (macs = N·SV·C + kernel terms) + macs = N·SV, add = N \
                  (rho), cmp = N for one_class; linear: macs = N·C, add = N",
    }
}

// ---- trees -----------------------------------------------------------------------------------

/// Depth (comparisons on the longest root-to-leaf path) of every branch node, given each
/// node's children (`None` = a leaf). Iterative; a cycle is an error.
fn branch_depths(children: &[[Option<usize>; 2]]) -> Result<Vec<i64>, OpError> {
    const UNSEEN: i64 = -1;
    const VISITING: i64 = -2;
    let mut depth = vec![UNSEEN; children.len()];
    for start in 0..children.len() {
        if depth[start] != UNSEEN {
            continue;
        }
        let mut stack = vec![start];
        while let Some(&node) = stack.last() {
            if depth[node] == UNSEEN {
                depth[node] = VISITING;
                for child in children[node].iter().flatten() {
                    match depth.get(*child) {
                        None => {
                            return invalid!("tree node {node} has a child {child} out of range");
                        }
                        Some(&VISITING) => {
                            return invalid!("the trees have a cycle at node {child}");
                        }
                        Some(&UNSEEN) => stack.push(*child),
                        Some(_) => {}
                    }
                }
            } else {
                stack.pop();
                if depth[node] == VISITING {
                    let deepest = children[node]
                        .iter()
                        .map(|c| c.map_or(0, |c| depth[c]))
                        .max()
                        .unwrap_or(0);
                    depth[node] = deepest + 1;
                }
            }
        }
    }
    Ok(depth)
}

/// What a tree ensemble costs per example.
#[derive(Debug, Clone)]
struct Forest {
    /// Comparisons on the longest path of every tree, summed.
    comparisons: i64,
    trees: i64,
    /// Leaf weights added per tree and example (weights per leaf, rounded up).
    per_tree: i64,
}

/// `TreeEnsemble` (ml opset 5): nodes by position, children by index, roots listed.
fn forest_v5(cx: &CostCtx<'_>) -> Result<Forest, OpError> {
    let true_ids = cx.req_attr::<&[i64]>("nodes_truenodeids")?;
    let false_ids = cx.req_attr::<&[i64]>("nodes_falsenodeids")?;
    let true_leaf = cx.req_attr::<&[i64]>("nodes_trueleafs")?;
    let false_leaf = cx.req_attr::<&[i64]>("nodes_falseleafs")?;
    let roots = cx.req_attr::<&[i64]>("tree_roots")?;
    let n = true_ids.len();
    if [false_ids.len(), true_leaf.len(), false_leaf.len()]
        .iter()
        .any(|&l| l != n)
    {
        return invalid!("the nodes_* attributes have different lengths");
    }
    let child = |id: i64, leaf: i64| -> Result<Option<usize>, OpError> {
        if leaf != 0 {
            return Ok(None);
        }
        usize::try_from(id)
            .ok()
            .filter(|&i| i < n)
            .map(Some)
            .ok_or_else(|| OpError::Invalid(format!("tree node id {id} is out of range")))
    };
    let children = (0..n)
        .map(|i| {
            Ok([
                child(true_ids[i], true_leaf[i])?,
                child(false_ids[i], false_leaf[i])?,
            ])
        })
        .collect::<Result<Vec<_>, OpError>>()?;
    let depth = branch_depths(&children)?;
    let mut comparisons = 0i64;
    for &root in roots {
        let d = usize::try_from(root)
            .ok()
            .and_then(|r| depth.get(r))
            .ok_or_else(|| OpError::Invalid(format!("tree root {root} is out of range")))?;
        comparisons = comparisons.saturating_add(*d);
    }
    let trees = roots.len() as i64;
    Ok(Forest {
        comparisons,
        trees,
        // Every leaf entry holds one weight for one target.
        per_tree: 1,
    })
}

/// Weights per leaf, rounded up (at least 1).
fn per_leaf(weights: i64, leaves: i64) -> i64 {
    if leaves <= 0 {
        1
    } else {
        ((weights + leaves - 1) / leaves).max(1)
    }
}

/// `TreeEnsembleClassifier` / `TreeEnsembleRegressor`: nodes keyed by (tree id, node id),
/// `LEAF` nodes end a path; `weights` names the attribute with the leaf weights' node ids.
fn forest_v1(cx: &CostCtx<'_>, weights: &str) -> Result<Forest, OpError> {
    let trees = cx.req_attr::<&[i64]>("nodes_treeids")?;
    let ids = cx.req_attr::<&[i64]>("nodes_nodeids")?;
    let modes = cx.req_attr::<&[String]>("nodes_modes")?;
    let true_ids = cx.req_attr::<&[i64]>("nodes_truenodeids")?;
    let false_ids = cx.req_attr::<&[i64]>("nodes_falsenodeids")?;
    let n = ids.len();
    if [trees.len(), modes.len(), true_ids.len(), false_ids.len()]
        .iter()
        .any(|&l| l != n)
    {
        return invalid!("the nodes_* attributes have different lengths");
    }
    let index: std::collections::BTreeMap<(i64, i64), usize> = trees
        .iter()
        .zip(ids)
        .enumerate()
        .map(|(i, (&t, &id))| ((t, id), i))
        .collect();
    let is_leaf = |i: usize| modes[i] == "LEAF";
    let child = |t: i64, id: i64| -> Result<Option<usize>, OpError> {
        match index.get(&(t, id)) {
            Some(&c) if is_leaf(c) => Ok(None),
            Some(&c) => Ok(Some(c)),
            None => invalid!("tree {t} has no node {id}"),
        }
    };
    let children = (0..n)
        .map(|i| {
            if is_leaf(i) {
                Ok([None, None])
            } else {
                Ok([
                    child(trees[i], true_ids[i])?,
                    child(trees[i], false_ids[i])?,
                ])
            }
        })
        .collect::<Result<Vec<_>, OpError>>()?;
    let depth = branch_depths(&children)?;
    let mut deepest: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
    for (i, &t) in trees.iter().enumerate() {
        let d = if is_leaf(i) { 0 } else { depth[i] };
        let e = deepest.entry(t).or_insert(0);
        *e = (*e).max(d);
    }
    let leaves = (0..n).filter(|&i| is_leaf(i)).count() as i64;
    let weight_count = cx.attr::<&[i64]>(weights)?.map_or(0, |w| w.len() as i64);
    Ok(Forest {
        comparisons: deepest.values().sum(),
        trees: deepest.len() as i64,
        per_tree: per_leaf(weight_count, leaves),
    })
}

/// Per example: the comparisons of every tree's longest path (`cmp`), then the leaf
/// weights aggregated into the targets (`add` for SUM/AVERAGE, `cmp` for MIN/MAX, per tree
/// and weight per leaf), `div` per target for AVERAGE, `add` per target with base values.
fn forest_cost(
    f: &Forest,
    n: &Dim,
    targets: &Dim,
    aggregate: &str,
    base_values: bool,
) -> Result<Cost, OpError> {
    let mut cost = Cost::zero().with_cmp(n * f.comparisons);
    let leaf_ops = n * (f.trees * f.per_tree);
    cost = match aggregate {
        "SUM" => cost.with_add(leaf_ops),
        "AVERAGE" => cost.with_add(leaf_ops).with_div(n * targets),
        "MIN" | "MAX" => cost.with_cmp(leaf_ops),
        other => {
            return invalid!("aggregate_function `{other}` is not one of AVERAGE, SUM, MIN, MAX");
        }
    };
    if base_values {
        cost = cost.with_add(n * targets);
    }
    Ok(cost)
}

fn infer_tree_ensemble(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let x = cx.tensor(0)?;
    let (n, _) = batch_and_features(x)?;
    let targets = cx.req_attr::<i64>("n_targets")?;
    let dtype = x.dtype;
    cx.set(0, TensorType::new(dtype, vec![n, Dim::from_i64(targets)]));
    Ok(())
}

fn cost_tree_ensemble(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (n, _) = batch_and_features(cx.tensor(0)?)?;
    let targets = Dim::from_i64(cx.req_attr::<i64>("n_targets")?);
    let aggregate = match cx.attr_or("aggregate_function", 1i64)? {
        0 => "AVERAGE",
        1 => "SUM",
        2 => "MIN",
        3 => "MAX",
        other => return invalid!("aggregate_function {other} is not in 0..=3"),
    };
    let mut cost = forest_cost(&forest_v5(cx)?, &n, &targets, aggregate, false)?;
    let transform = post_transform_code(cx.attr_or("post_transform", 0i64)?)?;
    cost += &post_transform(transform, &(&n * &targets), &n)?;
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "TreeEnsemble",
        class: OpClass::Other,
        opsets: Opsets::since(5),
        roles: &[Role::Data],
        infer: infer_tree_ensemble,
        cost: cost_tree_ensemble,
        formula: "per example: cmp = Σ longest path of each tree; add = trees·(weights per \
                  leaf) (cmp for MIN/MAX), div = n_targets for AVERAGE; post_transform",
    }
}

fn cost_tree_ensemble_regressor(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (n, _) = batch_and_features(cx.tensor(0)?)?;
    let targets = Dim::from_i64(cx.attr_or("n_targets", 1i64)?);
    let base = cx.attr::<&[f32]>("base_values")?.is_some()
        || cx.attr::<&ConstTensor>("base_values_as_tensor")?.is_some();
    let mut cost = forest_cost(
        &forest_v1(cx, "target_nodeids")?,
        &n,
        &targets,
        cx.attr_or("aggregate_function", "SUM")?,
        base,
    )?;
    cost += &post_transform(cx.attr_or("post_transform", "NONE")?, &(&n * &targets), &n)?;
    Ok(cost)
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "TreeEnsembleRegressor",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| {
            let (n, _) = batch_and_features(cx.tensor(0)?)?;
            let targets = cx.attr_or("n_targets", 1i64)?;
            cx.set(0, TensorType::new(DType::Float32, vec![n, Dim::from_i64(targets)]));
            Ok(())
        },
        cost: cost_tree_ensemble_regressor,
        formula: "per example: cmp = Σ longest path of each tree; add = trees·(weights per \
                  leaf) (cmp for MIN/MAX), div = n_targets for AVERAGE, add = n_targets with \
                  base_values; post_transform",
    }
}

fn cost_tree_ensemble_classifier(cx: &CostCtx<'_>) -> Result<Cost, OpError> {
    let (n, _) = batch_and_features(cx.tensor(0)?)?;
    let scores = cx.req_output(1).or_else(|_| cx.req_output(0))?;
    let classes = scores.shape.last().cloned().unwrap_or_else(Dim::one);
    let base = cx.attr::<&[f32]>("base_values")?.is_some()
        || cx.attr::<&ConstTensor>("base_values_as_tensor")?.is_some();
    let mut cost = forest_cost(&forest_v1(cx, "class_nodeids")?, &n, &classes, "SUM", base)?;
    cost += &post_transform(cx.attr_or("post_transform", "NONE")?, &(&n * &classes), &n)?;
    Ok(cost.with_cmp(n * (classes - 1)))
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "TreeEnsembleClassifier",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |cx| {
            let (n, _) = batch_and_features(cx.tensor(0)?)?;
            set_classifier_outputs(cx, n, "classlabels_int64s")
        },
        cost: cost_tree_ensemble_classifier,
        formula: "per example: cmp = Σ longest path of each tree + classes − 1 (argmax); add = \
                  trees·(weights per leaf) + classes with base_values; post_transform",
    }
}

inventory::submit! {
    OpDef {
        domain: ML,
        op_type: "ZipMap",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Data],
        infer: |_| {
            Err(OpError::Unsupported(
                "ZipMap outputs a sequence of maps, a type flopscope does not represent; \
                 profile the model without it (the classifier's scores tensor is the last \
                 tensor output)"
                    .into(),
            ))
        },
        cost: no_flops,
        formula: "unsupported (map output)",
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::{Attr, DType, Dim, TensorType};

    use crate::ops::testing::{Case, t};

    fn ml(op: &str) -> Case {
        Case::new(op).domain("ai.onnx.ml").opset(3)
    }

    fn strings(dims: &[i64]) -> TensorType {
        TensorType::new(
            DType::String,
            dims.iter().map(|&d| Dim::from_i64(d)).collect(),
        )
    }

    #[test]
    fn elementwise_ml_ops() {
        let r = ml("ArrayFeatureExtractor")
            .input(t("float32", &[3, 4]))
            .const_i64s(&[2], &[0, 1])
            .run();
        assert_eq!(r.shape(0), "[3, 2]");
        let r = ml("ArrayFeatureExtractor")
            .input(t("float32", &[4]))
            .const_i64s(&[3], &[0, 1, 3])
            .run();
        assert_eq!(r.shape(0), "[1, 3]");

        let r = ml("Binarizer").input(t("float32", &[3, 4, 5])).run();
        assert_eq!((r.shape(0), r.flops_cmp()), ("[3, 4, 5]".into(), 60));
        let r = ml("Scaler").input(t("float64", &[2, 3])).run();
        assert_eq!(r.dtype(0), DType::Float32);
        assert_eq!((r.flops_add(), r.flops_mul()), (6, 6));
        let r = ml("Normalizer")
            .input(t("float32", &[2, 3]))
            .str("norm", "L2")
            .run();
        assert_eq!((r.flops_mul(), r.flops_add(), r.flops_special()), (6, 4, 2));
        assert_eq!(r.flops_div(), 6);
        let r = ml("Imputer").input(t("float32", &[2, 3])).run();
        assert_eq!(r.flops_cmp(), 6);
    }

    #[test]
    fn encoders() {
        let r = ml("LabelEncoder")
            .input(strings(&[5]))
            .attr("keys_strings", Attr::Strings(vec!["a".into(), "b".into()]))
            .ints("values_int64s", &[0, 1])
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[5]".into(), DType::Int64));
        let r = ml("LabelEncoder")
            .input(t("int64", &[2, 2]))
            .ints("keys_int64s", &[0, 1])
            .attr("values_floats", Attr::Floats(vec![0.5, 1.5]))
            .run();
        assert_eq!(r.dtype(0), DType::Float32);
        let r = ml("CategoryMapper").input(strings(&[4])).run();
        assert_eq!(r.dtype(0), DType::Int64);
        let r = ml("OneHotEncoder")
            .input(t("int64", &[2, 3]))
            .ints("cats_int64s", &[1, 2, 3, 4])
            .run();
        assert_eq!(r.shape(0), "[2, 3, 4]");
        let r = ml("FeatureVectorizer")
            .input(t("float32", &[5, 2]))
            .input(t("int64", &[5, 3]))
            .ints("inputdimensions", &[2, 3])
            .run();
        assert_eq!(r.shape(0), "[5, 5]");
    }

    #[test]
    fn linear_models_by_hand() {
        let r = ml("LinearRegressor")
            .input(t("float32", &[8, 4]))
            .attr("coefficients", Attr::Floats(vec![0.0; 8]))
            .attr("intercepts", Attr::Floats(vec![0.0; 2]))
            .int("targets", 2)
            .run();
        assert_eq!(r.shape(0), "[8, 2]");
        assert_eq!((r.macs(), r.flops_add()), (8 * 4 * 2, 16));
        let r = ml("LinearClassifier")
            .input(t("float32", &[8, 4]))
            .attr("coefficients", Attr::Floats(vec![0.0; 12]))
            .attr("intercepts", Attr::Floats(vec![0.0; 3]))
            .ints("classlabels_ints", &[0, 1, 2])
            .str("post_transform", "SOFTMAX")
            .outputs(2)
            .run();
        assert_eq!(r.shape(0), "[8]");
        assert_eq!(r.dtype(0), DType::Int64);
        assert_eq!(r.shape(1), "[8, 3]");
        assert_eq!(r.macs(), 8 * 4 * 3);
        // intercepts + softmax (24 − 8)
        assert_eq!(r.flops_add(), 24 + 16);
        assert_eq!((r.flops_special(), r.flops_cmp()), (24, 8 * 2));
    }

    #[test]
    fn svms_by_hand() {
        // 3 classes, 5 support vectors of 4 features, RBF.
        let r = ml("SVMClassifier")
            .input(t("float32", &[2, 4]))
            .attr("support_vectors", Attr::Floats(vec![0.0; 20]))
            .ints("vectors_per_class", &[2, 2, 1])
            .attr("coefficients", Attr::Floats(vec![0.0; 10]))
            .attr("rho", Attr::Floats(vec![0.0; 3]))
            .ints("classlabels_ints", &[0, 1, 2])
            .str("kernel_type", "RBF")
            .outputs(2)
            .run();
        assert_eq!(r.shape(0), "[2]");
        assert_eq!(r.shape(1), "[2, 3]");
        let evals = 2 * 5;
        assert_eq!(r.macs(), evals * 4 + 2 * 2 * 5);
        assert_eq!(r.flops_add(), evals * 4 + 2 * 3);
        assert_eq!(r.flops_special(), evals);
        assert_eq!(r.flops_cmp(), 2 * 3);
        let r = ml("SVMRegressor")
            .input(t("float32", &[3, 4]))
            .attr("support_vectors", Attr::Floats(vec![0.0; 8]))
            .int("n_supports", 2)
            .run();
        assert_eq!(r.shape(0), "[3, 1]");
        assert_eq!(r.macs(), 3 * 2 * 4 + 3 * 2);
    }

    #[test]
    fn tree_ensembles_by_hand() {
        // One tree: node 0 → (node 1, node 2); node 1 → leaves; node 2 → (leaf, node 1).
        // Longest path: 0 → 2 → 1: 3 comparisons.
        let r = ml("TreeEnsemble")
            .opset(5)
            .input(t("float64", &[3, 2]))
            .int("n_targets", 2)
            .ints("nodes_truenodeids", &[1, 0, 1])
            .ints("nodes_falsenodeids", &[2, 2, 1])
            .ints("nodes_trueleafs", &[0, 1, 1])
            .ints("nodes_falseleafs", &[0, 1, 0])
            .ints("nodes_featureids", &[0, 0, 0])
            .ints("tree_roots", &[0])
            .ints("leaf_targetids", &[0, 1, 0, 1])
            .run();
        assert_eq!((r.shape(0), r.dtype(0)), ("[3, 2]".into(), DType::Float64));
        assert_eq!(r.flops_cmp(), 3 * 3);
        assert_eq!(r.flops_add(), 3);

        // Two stumps of depth 1 and 2, three classes weighted at every leaf.
        let r = ml("TreeEnsembleClassifier")
            .input(t("float32", &[4, 3]))
            .ints("nodes_treeids", &[0, 0, 0, 1, 1, 1, 1, 1])
            .ints("nodes_nodeids", &[0, 1, 2, 0, 1, 2, 3, 4])
            .attr(
                "nodes_modes",
                Attr::Strings(
                    [
                        "BRANCH_LEQ",
                        "LEAF",
                        "LEAF",
                        "BRANCH_LEQ",
                        "BRANCH_LT",
                        "LEAF",
                        "LEAF",
                        "LEAF",
                    ]
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                ),
            )
            .ints("nodes_truenodeids", &[1, 0, 0, 1, 3, 0, 0, 0])
            .ints("nodes_falsenodeids", &[2, 0, 0, 2, 4, 0, 0, 0])
            .ints(
                "class_nodeids",
                &[1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4],
            )
            .ints("classlabels_int64s", &[0, 1, 2])
            .outputs(2)
            .run();
        assert_eq!(r.shape(0), "[4]");
        assert_eq!(r.shape(1), "[4, 3]");
        // paths 1 + 2, argmax 2
        assert_eq!(r.flops_cmp(), 4 * 3 + 4 * 2);
        // 15 weights over 5 leaves: 3 per leaf, 2 trees
        assert_eq!(r.flops_add(), 4 * 2 * 3);

        let err = ml("ZipMap")
            .input(t("float32", &[4, 3]))
            .ints("classlabels_int64s", &[0, 1, 2])
            .run_err();
        assert!(err.contains("sequence of maps"), "{err}");
    }
}
