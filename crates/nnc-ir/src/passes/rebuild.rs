//! Rebuilding a graph node by node with a remapping: the shared machinery
//! of the passes that remove or merge nodes.

use crate::graph::{Graph, Node, NodeId};

/// Copies `graph` into a fresh arena: `decide` sees each node (its operands
/// already remapped) and either keeps it (`None`) or replaces it by an
/// earlier node of the new graph (`Some(id)`). Outputs and parameter reads
/// follow their nodes; a parameter read of a removed node becomes `None`.
pub(crate) fn rebuild(
    graph: &Graph,
    mut decide: impl FnMut(&Graph, &Node) -> Option<NodeId>,
    keep: &[bool],
) -> Graph {
    let mut new = Graph::new(graph.kind, graph.batch_size);
    let mut map: Vec<Option<NodeId>> = vec![None; graph.len()];
    for id in graph.ids() {
        if !keep[id.index()] {
            continue;
        }
        let old = graph.node(id);
        let inputs: Vec<NodeId> = old
            .inputs
            .iter()
            .map(|i| map[i.index()].unwrap_or(*i))
            .collect();
        let node = Node {
            op: old.op.clone(),
            inputs,
            shape: old.shape.clone(),
            name: old.name.clone(),
        };
        let target = match decide(&new, &node) {
            Some(existing) => existing,
            None => new.push_unchecked(node),
        };
        map[id.index()] = Some(target);
    }
    new.outputs = graph
        .outputs
        .iter()
        .map(|o| {
            let mut o = o.clone();
            o.node = map[o.node.index()].unwrap_or(o.node);
            o
        })
        .collect();
    new.param_reads = graph
        .param_reads
        .iter()
        .map(|r| r.and_then(|id| map.get(id.index()).copied().flatten()))
        .collect();
    new
}
