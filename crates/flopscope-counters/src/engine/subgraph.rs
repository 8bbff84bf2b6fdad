//! Subgraphs and function bodies: an If branch or a Loop or Scan body runs through
//! [`InferCtx::run_subgraph`], reading enclosing graphs' values through a [`Scope`] chain; a
//! node calling a model-local function runs the function's body with its attribute references
//! bound. Both are bounded in depth and in number of runs, and their errors say where they
//! arose.

use std::cell::OnceCell;
use std::sync::Arc;

use flopscope_ir::{Dim, Function, Graph, TensorValue, ValueDef, ValueType};

use super::walk::{initial_states, run_graph};
use super::{Env, UncountedReason};
use crate::ctx::ValueState;
use crate::{Cost, InferCtx, OpError};

/// How deep subgraphs may nest while profiling (the frontend refuses deeper files already).
const MAX_SUBGRAPH_DEPTH: usize = 64;

/// How many times, in all, subgraphs (If branches, loop bodies, ...) and function bodies may be
/// inferred for one profile. Real models need a few hundred at most; without a bound, a loop
/// whose carried shape changes runs its body twice, so nesting such loops doubles the work
/// with every level.
const MAX_SUBGRAPH_RUNS: usize = 100_000;

/// How many levels of a nested error's chain are kept at each end when it is shortened.
const CHAIN_ENDS: usize = 2;

impl Env<'_> {
    /// Counts one more subgraph or function run; an error past [`MAX_SUBGRAPH_RUNS`].
    fn count_run(&self) -> Result<(), OpError> {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        if n > MAX_SUBGRAPH_RUNS {
            return Err(OpError::Unsupported(format!(
                "more than {MAX_SUBGRAPH_RUNS} runs of subgraphs and functions (loops and \
                 branches nested in one another); flopscope stops here"
            )));
        }
        Ok(())
    }
}

/// A graph being profiled, as its subgraphs see it: they read its values by name.
#[derive(Debug)]
pub(crate) struct Scope<'a> {
    pub(crate) graph: &'a Graph,
    pub(crate) states: &'a [ValueState<'a>],
    pub(crate) parent: Option<&'a Scope<'a>>,
}

impl<'a> Scope<'a> {
    /// The state of a value visible from this graph: its own, or an enclosing graph's.
    fn lookup(&self, name: &str) -> Option<&'a ValueState<'a>> {
        match self.graph.find_value(name) {
            // Defined here (an outer reference of this graph itself continues upwards).
            Some(id) if !matches!(self.graph.value(id).def, ValueDef::Outer) => {
                Some(&self.states[id.index()])
            }
            _ => self.parent.and_then(|p| p.lookup(name)),
        }
    }
}

/// An error from inside a subgraph or a function body, `text` being `in ...: ...`. Seen from
/// the main graph (`depth` 0), a chain of more nested levels than a few keeps its outer and
/// inner ends only: a model nested 64 deep still gives a short line, not 64 repetitions.
fn nested_error(depth: usize, text: String) -> OpError {
    OpError::Invalid(if depth == 0 { elide_chain(&text) } else { text })
}

/// `in A: node x: in B: node y: ... : why` with its middle levels replaced by a count.
fn elide_chain(text: &str) -> String {
    let starts: Vec<usize> = text
        .match_indices(": in ")
        .map(|(i, _)| i + 2)
        .filter(|&i| {
            let rest = &text[i..];
            rest.starts_with("in subgraph `") || rest.starts_with("in function `")
        })
        .collect();
    if starts.len() <= 2 * CHAIN_ENDS {
        return text.to_owned();
    }
    let skipped = starts.len() + 1 - 2 * CHAIN_ENDS;
    format!(
        "{}... ({skipped} more levels) ... {}",
        &text[..starts[CHAIN_ENDS - 1]],
        &text[starts[starts.len() - CHAIN_ENDS]..]
    )
}

/// What inferring a subgraph (an If branch, a Loop or Scan body) gave.
#[derive(Debug, Clone)]
pub struct SubgraphRun {
    /// The subgraph's output types, in order (`None` where unknown).
    pub outputs: Vec<Option<ValueType>>,
    /// Output elements known before run time.
    pub values: Vec<Option<Arc<TensorValue>>>,
    /// The cost of one run of the subgraph.
    pub cost: Cost,
    /// Uncounted nodes inside it: (domain, op type, reason, path).
    pub uncounted: Vec<(String, String, UncountedReason, String)>,
}

// `InferCtx` is defined in `ctx.rs`; these methods live here because they run the engine
// (`run_graph`, `initial_states`, the depth and run bounds), which is private to `engine`.
impl<'a> InferCtx<'a> {
    /// Infers the subgraph held in attribute `attr` with its inputs of the given types (and
    /// optionally known elements). Values it reads from enclosing graphs are taken from the
    /// graphs being profiled.
    pub fn run_subgraph(
        &self,
        attr: &str,
        graph: &Graph,
        inputs: &[(ValueType, Option<TensorValue>)],
    ) -> Result<SubgraphRun, OpError> {
        self.run_subgraph_in(attr, graph, inputs, self.env.unrolling)
    }

    /// [`Self::run_subgraph`] for one iteration of a loop being unrolled: loops inside it are
    /// not unrolled as well.
    pub fn run_unrolled_body(
        &self,
        attr: &str,
        graph: &Graph,
        inputs: &[(ValueType, Option<TensorValue>)],
    ) -> Result<SubgraphRun, OpError> {
        self.run_subgraph_in(attr, graph, inputs, true)
    }

    /// Whether a loop here may be unrolled (it is not inside an unrolled loop's body).
    pub fn may_unroll(&self) -> bool {
        !self.env.unrolling
    }

    fn run_subgraph_in(
        &self,
        attr: &str,
        graph: &Graph,
        inputs: &[(ValueType, Option<TensorValue>)],
        unrolling: bool,
    ) -> Result<SubgraphRun, OpError> {
        self.env.count_run()?;
        if self.env.depth >= MAX_SUBGRAPH_DEPTH {
            return Err(OpError::Unsupported(format!(
                "subgraphs nest more than {MAX_SUBGRAPH_DEPTH} deep"
            )));
        }
        if inputs.len() != graph.inputs.len() {
            return Err(OpError::Invalid(format!(
                "subgraph `{attr}` has {} inputs, the op gives it {}",
                graph.inputs.len(),
                inputs.len()
            )));
        }
        let mut states = initial_states(graph);
        for (&id, (ty, value)) in graph.inputs.iter().zip(inputs) {
            let state = &mut states[id.index()];
            state.ty = Some(ty.clone());
            state.known = OnceCell::from(Ok(value.clone().map(Arc::new)));
        }
        for (i, v) in graph.values.iter().enumerate() {
            if !matches!(v.def, ValueDef::Outer) {
                continue;
            }
            let outer = self.scope.lookup(&v.name).ok_or_else(|| {
                OpError::Invalid(format!(
                    "subgraph `{attr}` reads `{}`, which no enclosing graph defines",
                    v.name
                ))
            })?;
            let known = match outer.known() {
                Ok(Some(value)) => Some(Arc::new(value.clone())),
                _ => None,
            };
            states[i] = ValueState {
                ty: outer.ty.clone(),
                known: OnceCell::from(Ok(known)),
                init: None,
                constant: outer.constant,
            };
        }
        let env = Env {
            opsets: self.env.opsets,
            bindings: self.env.bindings,
            functions: self.env.functions,
            depth: self.env.depth + 1,
            declared: self.env.declared,
            runs: self.env.runs,
            unrolling,
        };
        let run = run_graph(&env, graph, states, Some(self.scope))
            .map_err(|e| nested_error(self.env.depth, format!("in subgraph `{attr}`: {e}")))?;
        let mut cost = Cost::zero();
        let mut uncounted = Vec::new();
        for np in &run.nodes {
            cost += &np.cost;
            let path = format!("{}/{attr}/{}", self.node_label, np.name);
            if let Some(reason) = np.uncounted {
                uncounted.push((np.domain.clone(), np.op_type.clone(), reason, path.clone()));
            }
            for (d, o, r, p) in &np.inner_uncounted {
                uncounted.push((
                    d.clone(),
                    o.clone(),
                    *r,
                    format!("{}/{attr}/{p}", self.node_label),
                ));
            }
        }
        let outputs = graph
            .outputs
            .iter()
            .map(|id| run.states[id.index()].ty.clone())
            .collect();
        let values = graph
            .outputs
            .iter()
            .map(|id| match run.states[id.index()].known.get() {
                Some(Ok(Some(v))) => Some(v.clone()),
                _ => None,
            })
            .collect();
        Ok(SubgraphRun {
            outputs,
            values,
            cost,
            uncounted,
        })
    }

    /// Adds `times` runs of a subgraph to this node's cost, and its uncounted nodes to the
    /// node's.
    pub fn add_subgraph(&mut self, run: &SubgraphRun, times: &Dim) {
        self.extra_cost += &run.cost.scaled(times);
        self.inner_uncounted.extend(run.uncounted.iter().cloned());
    }
}

/// Runs a model-local function's body for one calling node: its formal inputs take the node's
/// input types, attribute references take the node's attributes (or their defaults).
pub(super) fn call_function(
    env: &Env<'_>,
    f: &Function,
    node: &flopscope_ir::Node,
    label: &str,
    states: &[ValueState<'_>],
) -> Result<SubgraphRun, OpError> {
    env.count_run()?;
    if env.depth >= MAX_SUBGRAPH_DEPTH {
        return Err(OpError::Unsupported(format!(
            "functions and subgraphs nest more than {MAX_SUBGRAPH_DEPTH} deep"
        )));
    }
    let mut body = f.body.clone();
    bind_attribute_refs(&mut body, node, f);
    let mut body_states = initial_states(&body);
    for (k, &id) in body.inputs.iter().enumerate() {
        if let Some(Some(caller)) = node.inputs.get(k) {
            let from = &states[caller.index()];
            let known = match from.known() {
                Ok(Some(v)) => Some(Arc::new(v.clone())),
                _ => None,
            };
            body_states[id.index()] = ValueState {
                ty: from.ty.clone(),
                known: OnceCell::from(Ok(known)),
                init: None,
                constant: from.constant,
            };
        }
    }
    let mut opsets = env.opsets.clone();
    opsets.extend(f.opsets.iter().map(|(d, v)| (d.clone(), *v)));
    let inner = Env {
        opsets: &opsets,
        bindings: env.bindings,
        functions: env.functions,
        depth: env.depth + 1,
        declared: env.declared,
        runs: env.runs,
        unrolling: env.unrolling,
    };
    let run = run_graph(&inner, &body, body_states, None)
        .map_err(|e| nested_error(env.depth, format!("in function `{}`: {e}", f.name)))?;
    let mut cost = Cost::zero();
    let mut uncounted = Vec::new();
    for np in &run.nodes {
        cost += &np.cost;
        if let Some(reason) = np.uncounted {
            uncounted.push((
                np.domain.clone(),
                np.op_type.clone(),
                reason,
                format!("{label}/{}", np.name),
            ));
        }
        for (d, o, r, p) in &np.inner_uncounted {
            uncounted.push((d.clone(), o.clone(), *r, format!("{label}/{p}")));
        }
    }
    Ok(SubgraphRun {
        outputs: body
            .outputs
            .iter()
            .map(|id| run.states[id.index()].ty.clone())
            .collect(),
        values: body
            .outputs
            .iter()
            .map(|id| match run.states[id.index()].known.get() {
                Some(Ok(Some(v))) => Some(v.clone()),
                _ => None,
            })
            .collect(),
        cost,
        uncounted,
    })
}

/// Replaces every `Attr::Ref` in a function body (and its subgraphs) by the calling node's
/// attribute of that name, or the function's default; a reference to neither is dropped (the
/// attribute is then absent, as ONNX specifies).
fn bind_attribute_refs(graph: &mut Graph, caller: &flopscope_ir::Node, f: &Function) {
    for node in &mut graph.nodes {
        let mut attrs = Vec::with_capacity(node.attrs.len());
        for (name, attr) in node.attrs.drain(..) {
            match attr {
                flopscope_ir::Attr::Ref(reference) => {
                    let value = caller.raw_attr(&reference).cloned().or_else(|| {
                        f.attributes
                            .iter()
                            .find(|(n, _)| *n == reference)
                            .and_then(|(_, d)| d.clone())
                    });
                    if let Some(value) = value {
                        attrs.push((name, value));
                    }
                }
                flopscope_ir::Attr::Graph(g) => {
                    let mut g = (*g).clone();
                    bind_attribute_refs(&mut g, caller, f);
                    attrs.push((name, flopscope_ir::Attr::Graph(Arc::new(g))));
                }
                other => attrs.push((name, other)),
            }
        }
        node.attrs = attrs;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_chains_of_nested_errors_keep_their_ends() {
        let chain = |levels: usize| {
            let mut text = "too deep".to_owned();
            for i in (0..levels).rev() {
                text = format!("in subgraph `body`: node `l{i}` (ai.onnx::Loop): {text}");
            }
            text
        };
        // Five levels are kept whole.
        assert_eq!(super::elide_chain(&chain(5)), chain(5));
        assert_eq!(
            super::elide_chain(&chain(9)),
            "in subgraph `body`: node `l0` (ai.onnx::Loop): in subgraph `body`: node `l1` \
             (ai.onnx::Loop): ... (5 more levels) ... in subgraph `body`: node `l7` \
             (ai.onnx::Loop): in subgraph `body`: node `l8` (ai.onnx::Loop): too deep"
        );
    }
}
