//! The model's totals: costs summed over the nodes, constants by class, activation bytes, the
//! overflow check on the sums, and the uncounted nodes grouped by op.

use std::collections::BTreeMap;

use flopscope_ir::Graph;

use super::{NodeProfile, Totals, Uncounted, UncountedReason};
use crate::ctx::ValueState;
use crate::params::{self, WeightClass};

pub(super) fn totals(
    graph: &Graph,
    nodes: &[NodeProfile],
    states: &[ValueState<'_>],
    classes: &params::Classes,
) -> Totals {
    let mut t = Totals::default();
    for np in nodes {
        t.macs += &np.cost.macs;
        if let Some(dtype) = &np.macs_dtype {
            *t.macs_by_dtype.entry(dtype.clone()).or_default() += &np.cost.macs;
        }
        t.flops += &np.cost.flops;
        t.bytes += &np.bytes;
        t.lower_bound |= np.uncounted.is_some() || !np.inner_uncounted.is_empty();
    }
    for (id, class) in classes.roots() {
        let Some(ty) = states[id.index()].tensor() else {
            continue;
        };
        let numel = classes.elements(id, ty);
        match class {
            WeightClass::Param => t.params += &numel,
            WeightClass::Buffer => t.buffers += &numel,
            WeightClass::Quant => t.quant_params += &numel,
            WeightClass::Constant => t.constants += &numel,
        }
        if matches!(class, WeightClass::Param | WeightClass::Buffer) {
            let bytes = ty.bytes();
            t.weight_bytes += &bytes;
            *t.weight_bytes_by_dtype
                .entry(ty.dtype.name().to_owned())
                .or_default() += &bytes;
        }
    }
    let activations = graph.inputs.iter().copied().chain(
        nodes
            .iter()
            .flat_map(|np| graph.node(np.id).outputs.iter().flatten().copied()),
    );
    for id in activations {
        let state = &states[id.index()];
        if let (false, Some(ty)) = (state.constant, state.tensor()) {
            t.activation_bytes += ty.bytes();
        }
    }
    t
}

pub(super) fn totals_overflow(t: &Totals) -> bool {
    [
        &t.macs,
        &t.bytes,
        &t.params,
        &t.buffers,
        &t.quant_params,
        &t.constants,
        &t.weight_bytes,
        &t.activation_bytes,
        &t.peak_activation_bytes,
    ]
    .iter()
    .any(|d| d.is_overflow())
        || t.flops.named().iter().any(|(_, d)| d.is_overflow())
        || t.total_flops().is_overflow()
}

pub(super) fn group_uncounted(nodes: &[NodeProfile]) -> Vec<Uncounted> {
    let mut groups: BTreeMap<(String, String, UncountedReason), Vec<String>> = BTreeMap::new();
    for np in nodes {
        if let Some(reason) = np.uncounted {
            groups
                .entry((np.domain.clone(), np.op_type.clone(), reason))
                .or_default()
                .push(np.name.clone());
        }
        for (domain, op_type, reason, path) in &np.inner_uncounted {
            groups
                .entry((domain.clone(), op_type.clone(), *reason))
                .or_default()
                .push(path.clone());
        }
    }
    groups
        .into_iter()
        .map(|((domain, op_type, reason), nodes)| Uncounted {
            domain,
            op_type,
            reason,
            nodes,
        })
        .collect()
}
