//! Control flow: `If`, `Loop`, `Scan`, `SequenceMap`. Their subgraphs are inferred with the
//! values they read from enclosing graphs; their cost is the subgraphs' cost (a loop body's
//! times the trip count, kept symbolic when it is not known).

use flopscope_ir::{DType, Dim, Graph, SequenceType, TensorType, TensorValue, ValueType};

use super::no_flops;
use super::sequence::{agree, element_type};
use crate::{
    InferCtx, OpClass, OpDef, OpError, Opsets, Role, SubgraphRun, invalid, normalize_axis,
};

/// Loops with at most this many iterations (known before run time) are inferred iteration by
/// iteration, so shapes that change from one iteration to the next come out exact.
const UNROLL_LIMIT: usize = 256;

fn output_of(run: &SubgraphRun, attr: &str, j: usize) -> Result<ValueType, OpError> {
    run.outputs.get(j).cloned().flatten().ok_or_else(|| {
        OpError::Unsupported(format!(
            "output {j} of `{attr}` has no known type (an op inside is uncounted)"
        ))
    })
}

// ---- If ----------------------------------------------------------------------------------

/// `If`: when the condition is known, only the branch taken is inferred (the other may not
/// even be valid for these inputs), and its known output elements carry over; otherwise both
/// branches are inferred, an output is what they agree on, and the cost is the costlier
/// branch's, field by field.
fn infer_if(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let then_branch = cx.req_attr::<&Graph>("then_branch")?;
    let else_branch = cx.req_attr::<&Graph>("else_branch")?;
    let cond = cx.ints(0)?.and_then(|v| v.first()).and_then(Dim::as_i64);
    let one = Dim::one();
    if let Some(cond) = cond {
        let (attr, branch) = if cond != 0 {
            ("then_branch", then_branch)
        } else {
            ("else_branch", else_branch)
        };
        let run = cx.run_subgraph(attr, branch, &[])?;
        for j in 0..cx.output_count() {
            match run.values.get(j).cloned().flatten() {
                Some(value) => cx.set_value(j, (*value).clone()),
                None => cx.set_type(j, output_of(&run, attr, j)?),
            }
        }
        cx.add_subgraph(&run, &one);
        return Ok(());
    }
    let then_run = cx.run_subgraph("then_branch", then_branch, &[])?;
    let else_run = cx.run_subgraph("else_branch", else_branch, &[])?;
    for j in 0..cx.output_count() {
        let ty = agree(
            cx,
            &format!("out{j}"),
            &output_of(&then_run, "then_branch", j)?,
            &output_of(&else_run, "else_branch", j)?,
        )?;
        cx.set_type(j, ty);
    }
    let mut costlier = then_run.clone();
    costlier.cost = then_run.cost.max(&else_run.cost);
    costlier
        .uncounted
        .extend(else_run.uncounted.iter().cloned());
    cx.add_subgraph(&costlier, &one);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "If",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Config],
        infer: infer_if,
        cost: no_flops,
        formula: "the branch taken; the costlier branch (per kind) when the condition is not known",
    }
}

// ---- Loop --------------------------------------------------------------------------------

/// `Loop`: inputs `M` (max trip count), `cond`, and N loop-carried values; the body maps
/// (iteration, cond, v...) to (cond, v..., scan outputs...). The trip count is `M` when it is
/// known and the body cannot stop early (its condition output passes the input condition
/// through or is a known true); otherwise a fresh symbol. Loop-carried dims that change
/// between iterations become fresh symbols.
fn infer_loop(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let body = cx.req_attr::<&Graph>("body")?;
    if unroll_loop(cx, body)? {
        return Ok(());
    }
    let carried = cx.input_count().saturating_sub(2);
    let mut carried_types = Vec::with_capacity(carried);
    for i in 0..carried {
        let ty = cx
            .input_type(2 + i)?
            .cloned()
            .ok_or_else(|| OpError::Invalid(format!("loop-carried input {} is missing", 2 + i)))?;
        carried_types.push(ty);
    }
    let iteration = TensorType::scalar(DType::Int64);
    let cond = TensorType::scalar(DType::Bool);
    let body_inputs = |carried: &[ValueType]| {
        let mut inputs = vec![
            (ValueType::Tensor(iteration.clone()), None),
            (ValueType::Tensor(cond.clone()), None),
        ];
        inputs.extend(carried.iter().map(|t| (t.clone(), None)));
        inputs
    };
    let mut run = cx.run_subgraph("body", body, &body_inputs(&carried_types))?;
    if run.outputs.len() < 1 + carried {
        return invalid!(
            "the body has {} outputs, fewer than 1 + {carried} loop-carried values",
            run.outputs.len()
        );
    }
    // One more pass when a carried value's type changes from one iteration to the next.
    let mut generalized = Vec::with_capacity(carried);
    let mut changed = false;
    for (i, ty) in carried_types.iter().enumerate() {
        let out = output_of(&run, "body", 1 + i)?;
        if &out == ty {
            generalized.push(ty.clone());
        } else {
            changed = true;
            generalized.push(agree(cx, &format!("carried{i}"), ty, &out)?);
        }
    }
    if changed {
        run = cx.run_subgraph("body", body, &body_inputs(&generalized))?;
    }

    let trips = loop_trips(cx, body, &run)?;
    for (i, ty) in generalized.iter().enumerate() {
        cx.set_type(i, ty.clone());
    }
    let scans = run.outputs.len() - 1 - carried;
    for k in 0..scans {
        let ty = match output_of(&run, "body", 1 + carried + k)? {
            ValueType::Tensor(t) => {
                let mut shape = vec![trips.clone()];
                shape.extend(t.shape);
                ValueType::Tensor(TensorType::new(t.dtype, shape))
            }
            other => {
                return Err(OpError::Unsupported(format!(
                    "scan output {k} of the body is {other}"
                )));
            }
        };
        cx.set_type(carried + k, ty);
    }
    cx.add_subgraph(&run, &trips);
    Ok(())
}

/// Infers a loop iteration by iteration when its trip count is known before run time (a known
/// `M` and a condition that stays known), feeding each iteration's loop-carried types and
/// values to the next; the scan outputs stack what the iterations agree on. `false` when the
/// loop cannot be unrolled (it then gets the symbolic treatment).
fn unroll_loop(cx: &mut InferCtx<'_>, body: &Graph) -> Result<bool, OpError> {
    if !cx.may_unroll() {
        return Ok(false);
    }
    let max = if cx.has_input(0) {
        match cx.ints(0)?.and_then(|v| v.first()).and_then(Dim::as_i64) {
            Some(m) => Some(usize::try_from(m.max(0)).unwrap_or(usize::MAX)),
            None => return Ok(false),
        }
    } else {
        None
    };
    if max.is_some_and(|m| m > UNROLL_LIMIT) {
        return Ok(false);
    }
    // Without a condition input the body's condition output is ignored (a for loop).
    let uses_cond = cx.has_input(1);
    let mut cond = if uses_cond {
        match cx.ints(1)?.and_then(|v| v.first()).and_then(Dim::as_i64) {
            Some(c) => c != 0,
            None => return Ok(false),
        }
    } else {
        true
    };
    let carried = cx.input_count().saturating_sub(2);
    let mut state: Vec<(ValueType, Option<TensorValue>)> = Vec::with_capacity(carried);
    for i in 0..carried {
        let ty = cx
            .input_type(2 + i)?
            .cloned()
            .ok_or_else(|| OpError::Invalid(format!("loop-carried input {} is missing", 2 + i)))?;
        state.push((ty, cx.value(2 + i)?.cloned()));
    }
    let limit = max.unwrap_or(UNROLL_LIMIT);
    let mut runs: Vec<SubgraphRun> = Vec::new();
    while runs.len() < limit && cond {
        let i = runs.len() as i64;
        let mut inputs = vec![
            (
                ValueType::Tensor(TensorType::scalar(DType::Int64)),
                Some(TensorValue::ints(
                    DType::Int64,
                    vec![],
                    vec![Dim::from_i64(i)],
                )),
            ),
            (
                ValueType::Tensor(TensorType::scalar(DType::Bool)),
                Some(TensorValue::ints(
                    DType::Bool,
                    vec![],
                    vec![Dim::from_i64(i64::from(cond))],
                )),
            ),
        ];
        inputs.extend(state.iter().cloned());
        let run = cx.run_unrolled_body("body", body, &inputs)?;
        if run.outputs.len() < 1 + carried {
            return invalid!(
                "the body has {} outputs, fewer than 1 + {carried} loop-carried values",
                run.outputs.len()
            );
        }
        if uses_cond {
            match run.values[0]
                .as_ref()
                .and_then(|v| v.as_i64s())
                .and_then(|v| v.first().copied())
            {
                Some(c) => cond = c != 0,
                None => return Ok(false),
            }
        }
        for (k, slot) in state.iter_mut().enumerate() {
            *slot = (
                output_of(&run, "body", 1 + k)?,
                run.values[1 + k].as_deref().cloned(),
            );
        }
        runs.push(run);
    }
    if max.is_none() && cond && uses_cond {
        // Still running after the limit: not unrollable here.
        return Ok(false);
    }
    let Some(first) = runs.first() else {
        // No iteration: the carried values pass through; scan outputs need the body's types.
        return Ok(false);
    };
    let trips = Dim::from_i64(runs.len() as i64);
    for (k, (ty, value)) in state.into_iter().enumerate() {
        match (value, &ty) {
            (Some(v), ValueType::Tensor(_)) => cx.set_value(k, v),
            _ => cx.set_type(k, ty),
        }
    }
    let scans = first.outputs.len() - 1 - carried;
    for j in 0..scans {
        let mut slice = output_of(first, "body", 1 + carried + j)?;
        for run in &runs[1..] {
            slice = agree(
                cx,
                &format!("scan{j}"),
                &slice,
                &output_of(run, "body", 1 + carried + j)?,
            )?;
        }
        let ValueType::Tensor(t) = slice else {
            return Err(OpError::Unsupported(format!(
                "scan output {j} of the body is {slice}"
            )));
        };
        let mut shape = vec![trips.clone()];
        shape.extend(t.shape);
        cx.set(carried + j, TensorType::new(t.dtype, shape));
    }
    let one = Dim::one();
    for run in &runs {
        cx.add_subgraph(run, &one);
    }
    Ok(true)
}

/// How many times the body runs.
fn loop_trips(cx: &InferCtx<'_>, body: &Graph, run: &SubgraphRun) -> Result<Dim, OpError> {
    let max = if cx.has_input(0) {
        cx.ints(0)?.and_then(|v| v.first().cloned())
    } else {
        None
    };
    // The body's condition output: a known true, or the condition input passed through.
    let cond_out = body.outputs.first().copied();
    let cond_in = body.inputs.get(1).copied();
    let passes_cond_through = match (cond_out, cond_in) {
        (Some(out), Some(input)) => out == input || is_identity_of(body, out, input),
        _ => false,
    };
    let cond_known_true = run
        .values
        .first()
        .and_then(|v| v.as_ref())
        .and_then(|v| v.as_i64s())
        .is_some_and(|v| v.first().is_some_and(|&c| c != 0));
    let initial_true = !cx.has_input(1)
        || cx
            .ints(1)?
            .and_then(|v| v.first().and_then(Dim::as_i64))
            .is_some_and(|c| c != 0);
    match max {
        Some(m) if cond_known_true || (passes_cond_through && initial_true) || !cx.has_input(1) => {
            Ok(m.max(&Dim::zero()))
        }
        _ => Ok(cx.fresh_symbol("trips")),
    }
}

/// Whether `out` is produced by an `Identity` of `input` in `graph`.
fn is_identity_of(graph: &Graph, out: flopscope_ir::ValueId, input: flopscope_ir::ValueId) -> bool {
    match graph.value(out).def {
        flopscope_ir::ValueDef::Node { node, .. } => {
            let n = graph.node(node);
            n.op_type == "Identity" && n.inputs.first().copied().flatten() == Some(input)
        }
        _ => false,
    }
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Loop",
        class: OpClass::Other,
        opsets: Opsets::since(1),
        roles: &[Role::Config, Role::Config, Role::Data],
        infer: infer_loop,
        cost: no_flops,
        formula: "trip count × cost(body); the trip count is M, or a symbol when the loop can stop early",
    }
}

// ---- Scan --------------------------------------------------------------------------------

/// A list attribute with one entry per item, defaulting to 0.
fn per_item(cx: &InferCtx<'_>, name: &str, count: usize) -> Result<Vec<i64>, OpError> {
    match cx.attr::<&[i64]>(name)? {
        None => Ok(vec![0; count]),
        Some(v) if v.len() == count => Ok(v.to_vec()),
        Some(v) => invalid!("`{name}` has {} entries for {count} items", v.len()),
    }
}

/// `Scan` (opset 9+): N state inputs then `num_scan_inputs` scan inputs, each sliced along its
/// scan axis; the body maps (states, slices) to (states, scan output slices), and the scan
/// outputs stack the slices along their scan axis. Opset 8 has a leading batch axis on every
/// input and output and an optional `sequence_lens` first input.
fn infer_scan(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let body = cx.req_attr::<&Graph>("body")?;
    let scans = usize::try_from(cx.req_attr::<i64>("num_scan_inputs")?)
        .map_err(|_| OpError::Invalid("num_scan_inputs is negative".into()))?;
    let batched = cx.opset() < 9;
    let first = usize::from(batched);
    let total = cx.input_count().saturating_sub(first);
    let states = total
        .checked_sub(scans)
        .ok_or_else(|| OpError::Invalid(format!("{scans} scan inputs but only {total} inputs")))?;
    let input_axes = if batched {
        vec![0; scans]
    } else {
        per_item(cx, "scan_input_axes", scans)?
    };

    let mut body_inputs = Vec::with_capacity(total);
    let mut batch = None;
    for i in 0..states {
        let t = cx.tensor(first + i)?;
        let t = if batched {
            batch.get_or_insert_with(|| t.shape.first().cloned());
            TensorType::new(t.dtype, t.shape.get(1..).unwrap_or_default().to_vec())
        } else {
            t.clone()
        };
        body_inputs.push((ValueType::Tensor(t), None));
    }
    let mut length: Option<Dim> = None;
    for (k, &axis) in input_axes.iter().enumerate() {
        let t = cx.tensor(first + states + k)?;
        let mut shape = t.shape.clone();
        if batched {
            if shape.is_empty() {
                return invalid!("scan input {k} {} has no batch axis", t);
            }
            shape.remove(0);
        }
        let axis = normalize_axis(axis, shape.len())?;
        let len = shape.remove(axis);
        length.get_or_insert(len);
        body_inputs.push((ValueType::Tensor(TensorType::new(t.dtype, shape)), None));
    }
    let length = length.unwrap_or_else(|| cx.fresh_symbol("length"));
    let run = cx.run_subgraph("body", body, &body_inputs)?;
    let outputs = run.outputs.len().saturating_sub(states);
    let output_axes = if batched {
        vec![0; outputs]
    } else {
        per_item(cx, "scan_output_axes", outputs)?
    };
    let with_batch = |mut shape: Vec<Dim>| {
        if batched {
            shape.insert(0, batch.clone().flatten().unwrap_or_else(Dim::one));
        }
        shape
    };
    for i in 0..states {
        let ValueType::Tensor(t) = output_of(&run, "body", i)? else {
            return invalid!("state output {i} of the body is not a tensor");
        };
        cx.set(i, TensorType::new(t.dtype, with_batch(t.shape)));
    }
    for (k, &axis) in output_axes.iter().enumerate() {
        let ValueType::Tensor(t) = output_of(&run, "body", states + k)? else {
            return invalid!("scan output {k} of the body is not a tensor");
        };
        let mut shape = t.shape;
        let at = crate::normalize_axis_inclusive(axis, shape.len())?;
        shape.insert(at, length.clone());
        cx.set(states + k, TensorType::new(t.dtype, with_batch(shape)));
    }
    let runs = if batched {
        &length * batch.flatten().unwrap_or_else(Dim::one)
    } else {
        length
    };
    cx.add_subgraph(&run, &runs);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "Scan",
        class: OpClass::Other,
        opsets: Opsets::since(8),
        roles: &[Role::Data],
        infer: infer_scan,
        cost: no_flops,
        formula: "sequence length (× batch at opset 8) × cost(body)",
    }
}

// ---- SequenceMap -------------------------------------------------------------------------

/// `SequenceMap`: the body runs once per element of the input sequence, on that element and
/// the matching element (or the whole tensor) of each additional input; each output is the
/// sequence of the body's outputs. With known elements the body runs on each, exactly.
fn infer_sequence_map(cx: &mut InferCtx<'_>) -> Result<(), OpError> {
    let body = cx.req_attr::<&Graph>("body")?;
    let mut inputs = Vec::with_capacity(cx.input_count());
    for i in 0..cx.input_count() {
        inputs.push(cx.input_type(i)?.cloned().ok_or(OpError::MissingInput(i))?);
    }
    let known_len = match inputs.first() {
        Some(ValueType::Sequence(SequenceType::Items(items))) => Some(items.len()),
        _ => None,
    };
    // Every sequence input must have the same known length for element-wise runs.
    let all_known = known_len.is_some_and(|n| {
        inputs.iter().all(|t| match t {
            ValueType::Sequence(SequenceType::Items(items)) => items.len() == n,
            ValueType::Sequence(_) => false,
            _ => true,
        })
    });
    let outputs = cx.output_count();
    if let (true, Some(n)) = (all_known, known_len) {
        let mut items: Vec<Vec<ValueType>> = vec![Vec::with_capacity(n); outputs];
        let mut runs = Vec::with_capacity(n);
        for k in 0..n {
            let args = inputs
                .iter()
                .map(|t| match t {
                    ValueType::Sequence(SequenceType::Items(items)) => (items[k].clone(), None),
                    other => (other.clone(), None),
                })
                .collect::<Vec<(ValueType, Option<TensorValue>)>>();
            let run = cx.run_subgraph("body", body, &args)?;
            for (j, slot) in items.iter_mut().enumerate() {
                slot.push(output_of(&run, "body", j)?);
            }
            runs.push(run);
        }
        for (j, list) in items.into_iter().enumerate() {
            cx.set_type(j, ValueType::Sequence(SequenceType::Items(list)));
        }
        let one = Dim::one();
        for run in &runs {
            cx.add_subgraph(run, &one);
        }
        return Ok(());
    }
    let mut args = Vec::with_capacity(inputs.len());
    for (i, t) in inputs.iter().enumerate() {
        let ty = match t {
            ValueType::Sequence(seq) => {
                element_type(cx, seq, &format!("in{i}"))?.ok_or_else(|| {
                    OpError::Unsupported(format!(
                        "input {i} is a sequence whose element type is not known"
                    ))
                })?
            }
            other => other.clone(),
        };
        args.push((ty, None::<TensorValue>));
    }
    let run = cx.run_subgraph("body", body, &args)?;
    for j in 0..outputs {
        let elem = output_of(&run, "body", j)?;
        cx.set_type(j, ValueType::Sequence(SequenceType::of(elem)));
    }
    let length = cx.fresh_symbol("length");
    cx.add_subgraph(&run, &length);
    Ok(())
}

inventory::submit! {
    OpDef {
        domain: "",
        op_type: "SequenceMap",
        class: OpClass::Other,
        opsets: Opsets::since(17),
        roles: &[Role::Data],
        infer: infer_sequence_map,
        cost: no_flops,
        formula: "sequence length × cost(body)",
    }
}
