//! Pass `dce`: dead-code elimination. Keeps the nodes some output depends
//! on, in their order, and drops the rest (inputs included: an inference
//! graph has no learning rate, a training graph whose cost reads the
//! weighted input has no final activation).

use super::rebuild::rebuild;
use crate::graph::Graph;

pub fn dce(graph: &Graph) -> Graph {
    let mut live = vec![false; graph.len()];
    for output in &graph.outputs {
        if let Some(flag) = live.get_mut(output.node.index()) {
            *flag = true;
        }
    }
    for id in graph.ids().rev() {
        if live[id.index()] {
            for input in &graph.node(id).inputs {
                if let Some(flag) = live.get_mut(input.index()) {
                    *flag = true;
                }
            }
        }
    }
    rebuild(graph, |_, _| None, &live)
}
