//! The op graph's layout for the live page: the nodes the layer table shows (no constants, no
//! pure data movement), each in a layer and a slot, top to bottom. Edges go from a node to the
//! nearest shown nodes that read what it makes, through hidden nodes (a Reshape or a Concat
//! between two convolutions becomes one edge).
//!
//! Layers are longest paths from the graph's inputs, so every edge points down. Within a layer,
//! nodes are ordered by the mean slot of their neighbours (the barycenter heuristic), a few
//! sweeps down and up, which untangles parallel branches without trying to be optimal.

use std::collections::{HashMap, HashSet};

use crate::model::NodeReport;
use crate::views::shown_by_default as shown;

/// Down-and-up ordering sweeps.
const SWEEPS: usize = 4;

/// The layout: `nodes[i]` is `(index in the report's nodes, layer, slot)`; `edges` pairs
/// positions in `nodes`; `width` is the most slots in a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) nodes: Vec<(usize, usize, usize)>,
    pub(crate) edges: Vec<(usize, usize)>,
    pub(crate) layers: usize,
    pub(crate) width: usize,
}

/// Lays out the shown nodes of `nodes` (in execution order: a node's producers come first).
pub(crate) fn layout(nodes: &[NodeReport]) -> Layout {
    // Who makes each value.
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for out in &n.outputs {
            if !out.name.is_empty() {
                producer.insert(out.name.as_str(), i);
            }
        }
    }
    // The nodes each node reads from directly.
    let direct: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            let mut from: Vec<usize> = n
                .inputs
                .iter()
                .filter_map(|t| producer.get(t.name.as_str()).copied())
                .collect();
            from.sort_unstable();
            from.dedup();
            from
        })
        .collect();
    // The shown nodes each node reads from, looking through hidden ones (in execution order,
    // so a producer's set is known before its readers').
    let mut sources: Vec<Vec<usize>> = Vec::with_capacity(nodes.len());
    for from in &direct {
        let mut set: Vec<usize> = Vec::new();
        for &p in from {
            if shown(&nodes[p]) {
                set.push(p);
            } else if p < sources.len() {
                set.extend(sources[p].iter().copied());
            }
        }
        set.sort_unstable();
        set.dedup();
        sources.push(set);
    }
    let kept: Vec<usize> = (0..nodes.len()).filter(|&i| shown(&nodes[i])).collect();
    let position: HashMap<usize, usize> = kept.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut layer = vec![0usize; kept.len()];
    for (k, &i) in kept.iter().enumerate() {
        for s in &sources[i] {
            if let Some(&from) = position.get(s)
                && from < k
            {
                edges.push((from, k));
                layer[k] = layer[k].max(layer[from] + 1);
            }
        }
    }
    let layers = layer.iter().max().map_or(0, |l| l + 1);
    // Slots: execution order first, then barycenter sweeps.
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (k, &l) in layer.iter().enumerate() {
        rows[l].push(k);
    }
    let mut ups: Vec<Vec<usize>> = vec![Vec::new(); kept.len()];
    let mut downs: Vec<Vec<usize>> = vec![Vec::new(); kept.len()];
    for &(a, b) in &edges {
        downs[a].push(b);
        ups[b].push(a);
    }
    let mut slot = vec![0usize; kept.len()];
    let place = |rows: &[Vec<usize>], slot: &mut [usize]| {
        for row in rows {
            for (s, &k) in row.iter().enumerate() {
                slot[k] = s;
            }
        }
    };
    place(&rows, &mut slot);
    for sweep in 0..SWEEPS {
        let down = sweep % 2 == 0;
        let order: Vec<usize> = if down {
            (1..layers).collect()
        } else {
            (0..layers.saturating_sub(1)).rev().collect()
        };
        for l in order {
            let neighbours = if down { &ups } else { &downs };
            let mut keyed: Vec<(f64, usize, usize)> = rows[l]
                .iter()
                .enumerate()
                .map(|(s, &k)| {
                    let ns = &neighbours[k];
                    let key = if ns.is_empty() {
                        s as f64
                    } else {
                        ns.iter().map(|&n| slot[n] as f64).sum::<f64>() / ns.len() as f64
                    };
                    (key, s, k)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            rows[l] = keyed.into_iter().map(|(_, _, k)| k).collect();
            for (s, &k) in rows[l].iter().enumerate() {
                slot[k] = s;
            }
        }
    }
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut seen = HashSet::new();
    edges.retain(|e| seen.insert(*e));
    Layout {
        nodes: kept
            .iter()
            .enumerate()
            .map(|(k, &i)| (i, layer[k], slot[k]))
            .collect(),
        edges,
        layers,
        width,
    }
}

#[cfg(test)]
mod tests {
    use flopscope_ir::Dim;

    use super::*;
    use crate::model::TensorReport;

    fn tensor(name: &str) -> TensorReport {
        TensorReport {
            name: name.to_owned(),
            dtype: Some("float32".into()),
            shape: None,
            value: None,
        }
    }

    /// A node reading `ins` and making `out`; `flops` 0 makes it data movement (hidden).
    fn node(name: &str, ins: &[&str], out: &str, flops: i64) -> NodeReport {
        NodeReport {
            inputs: ins.iter().map(|i| tensor(i)).collect(),
            outputs: vec![tensor(out)],
            flops: Dim::from_i64(flops),
            ..NodeReport::stub(name, "Op")
        }
    }

    #[test]
    fn a_diamond_has_its_branches_side_by_side() {
        let nodes = [
            node("a", &["x"], "a", 1),
            node("b", &["a"], "b", 1),
            node("c", &["a"], "c", 1),
            node("d", &["b", "c"], "d", 1),
        ];
        let l = layout(&nodes);
        assert_eq!(l.layers, 3);
        assert_eq!(l.width, 2);
        assert_eq!(l.nodes, vec![(0, 0, 0), (1, 1, 0), (2, 1, 1), (3, 2, 0)]);
        assert_eq!(l.edges, vec![(0, 1), (0, 2), (1, 3), (2, 3)]);
    }

    #[test]
    fn hidden_nodes_are_looked_through() {
        // conv -> reshape (hidden) -> concat (hidden, also reading the input) -> relu
        let nodes = [
            node("conv", &["x"], "c", 4),
            node("reshape", &["c"], "r", 0),
            node("concat", &["r", "x"], "cat", 0),
            node("relu", &["cat"], "y", 1),
        ];
        let l = layout(&nodes);
        assert_eq!(l.nodes, vec![(0, 0, 0), (3, 1, 0)]);
        assert_eq!(l.edges, vec![(0, 1)]);
    }

    #[test]
    fn a_long_branch_pushes_its_join_down() {
        // a feeds d directly and through b, c: d sits below c, not beside b.
        let nodes = [
            node("a", &["x"], "a", 1),
            node("b", &["a"], "b", 1),
            node("c", &["b"], "c", 1),
            node("d", &["a", "c"], "d", 1),
        ];
        let l = layout(&nodes);
        assert_eq!(
            l.nodes.iter().map(|n| n.1).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn crossing_branches_are_untangled() {
        // Two parallel chains whose second layer comes out in the other order: the sweeps put
        // each node under its own parent.
        let nodes = [
            node("a", &["x"], "a", 1),
            node("b", &["x"], "b", 1),
            node("from_b", &["b"], "fb", 1),
            node("from_a", &["a"], "fa", 1),
        ];
        let l = layout(&nodes);
        let slot = |i: usize| l.nodes.iter().find(|n| n.0 == i).unwrap().2;
        assert_eq!(slot(3), slot(0));
        assert_eq!(slot(2), slot(1));
    }
}
