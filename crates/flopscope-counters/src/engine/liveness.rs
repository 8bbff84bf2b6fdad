//! Live activation memory: the bytes live while each node runs, in execution order, and their
//! peak (exact when dims are bound; with symbols, the `max` of the steps that peak at sample
//! sizes).

use std::collections::BTreeMap;

use flopscope_ir::{Dim, Graph, ValueDef, ValueId};

use super::{NodeProfile, Profile};
use crate::ctx::ValueState;

/// Live activation memory while each node runs, in execution order: a value is live from the
/// node that makes it (graph inputs from the start) to the last node that reads it (graph
/// outputs to the end); while a node runs, its inputs and outputs are all live. Constants and
/// weights are not activations.
pub(super) fn live_steps(
    graph: &Graph,
    nodes: &[NodeProfile],
    states: &[ValueState<'_>],
) -> Vec<Dim> {
    let bytes = |id: ValueId| -> Dim {
        let state = &states[id.index()];
        match (state.constant, state.tensor()) {
            (false, Some(ty)) => ty.bytes(),
            _ => Dim::zero(),
        }
    };
    // Step at which each value is last read; graph outputs are read after the last step.
    let mut last_use: BTreeMap<ValueId, usize> = BTreeMap::new();
    for (step, np) in nodes.iter().enumerate() {
        for id in graph.node(np.id).inputs.iter().flatten() {
            last_use.insert(*id, step);
        }
    }
    for id in &graph.outputs {
        last_use.insert(*id, usize::MAX);
    }
    let mut live: Dim = graph.inputs.iter().map(|&id| bytes(id)).sum();
    let mut steps: Vec<Dim> = Vec::with_capacity(nodes.len());
    for (step, np) in nodes.iter().enumerate() {
        let node = graph.node(np.id);
        for id in node.outputs.iter().flatten() {
            live += bytes(*id);
        }
        steps.push(live.clone());
        // Values this node was the last to read are freed (and outputs nobody reads).
        for id in node
            .inputs
            .iter()
            .flatten()
            .chain(node.outputs.iter().flatten())
        {
            let freed = match last_use.get(id) {
                Some(&l) => l == step,
                None => node.outputs.iter().flatten().any(|o| o == id),
            };
            if freed && !matches!(graph.value(*id).def, ValueDef::Initializer(_)) {
                live -= bytes(*id);
                last_use.remove(id);
            }
        }
    }
    steps
}

/// The peak of the live steps and the node where it is first reached. Exact when every dim is
/// bound. With symbols, which step peaks can depend on the sizes, and the `max` of every step
/// would be exact but unreadable and slow to normalise: the peak is the `max` of the steps that
/// peak at sample sizes (every symbol 16, 256 and 4096), and the node the one peaking at the
/// largest. [`Profile::peak_at`] is exact at any binding.
pub(super) fn peak_of(steps: &[Dim], nodes: &[NodeProfile]) -> (Dim, Option<String>) {
    if steps.is_empty() {
        return (Dim::zero(), None);
    }
    if let Some(values) = steps.iter().map(Dim::as_i64).collect::<Option<Vec<i64>>>() {
        let (at, peak) =
            values.iter().enumerate().fold(
                (0, i64::MIN),
                |best, (i, &v)| if v > best.1 { (i, v) } else { best },
            );
        return (Dim::from_i64(peak), Some(nodes[at].name.clone()));
    }
    let mut candidates: Vec<usize> = Vec::new();
    for sample in [16, 256, 4096] {
        if let Some((i, _)) = argmax_at(steps, &|_: &str| Some(sample)) {
            candidates.retain(|&c| c != i);
            candidates.push(i);
        }
    }
    let Some(&largest) = candidates.last() else {
        return (Dim::overflow(), None);
    };
    let peak = candidates
        .iter()
        .map(|&i| steps[i].clone())
        .reduce(|a, b| a.max(&b))
        .unwrap_or_else(Dim::zero);
    (peak, Some(nodes[largest].name.clone()))
}

/// The first step with the largest value at a binding.
fn argmax_at(steps: &[Dim], lookup: &dyn Fn(&str) -> Option<i64>) -> Option<(usize, i64)> {
    steps
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((i, d.eval(lookup).ok()?)))
        .fold(None, |best: Option<(usize, i64)>, (i, v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((i, v)),
        })
}

impl Profile {
    /// The peak live activation memory at a binding of the named dims, exactly, and the node
    /// where it is first reached. `None` when a dim the steps need is not bound.
    pub fn peak_at(&self, lookup: &dyn Fn(&str) -> Option<i64>) -> Option<(i64, String)> {
        if self
            .live_activation_steps
            .iter()
            .any(|d| d.eval(lookup).is_err())
        {
            return None;
        }
        let (i, v) = argmax_at(&self.live_activation_steps, lookup)?;
        Some((v, self.nodes.get(i)?.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::Dim;

    use crate::ops::testing::{Case, t};

    #[test]
    fn peak_activation_memory_along_a_chain() {
        // x (40 B) → Relu → y0 (40 B) → Relu → y1 (40 B): while each Relu runs its input and
        // output are live (80 B); x is freed after the first, y0 after the second.
        let r = Case::new("Relu")
            .input(t("float32", &[10]))
            .then("Relu")
            .run();
        let totals = r.totals();
        assert_eq!(totals.peak_activation_bytes, Dim::from_i64(80));
        assert_eq!(totals.peak_at.as_deref(), Some("node0"));
        assert_eq!(totals.activation_bytes, Dim::from_i64(120));
    }
}
