//! Parts of a checked model run on their own: a decoder fed a code drawn
//! from the prior (`nnc sample`), an encoder giving an image's code. A part
//! keeps every layer of the model, so the model's parameters fit it as
//! they are.

use crate::program::{Model, Node, NodeId, Op};

/// The part of `model` that computes `output` from `inputs`: each node of
/// `inputs` becomes an input of the part (in that order), and the nodes
/// `output` reads through them are kept, renumbered in order. `None` when
/// `output` also reads a model input or a noise source that is not among
/// `inputs`, or a node is out of range.
pub fn part(model: &Model, inputs: &[NodeId], output: NodeId) -> Option<Model> {
    let count = model.nodes.len();
    if output.0 >= count || inputs.iter().any(|i| i.0 >= count) {
        return None;
    }
    let mut kept = vec![false; count];
    let mut stack = vec![output];
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut kept[id.0], true) || inputs.contains(&id) {
            continue;
        }
        let node = model.node(id);
        if matches!(node.op, Op::Input | Op::Noise(_)) {
            return None;
        }
        stack.extend(node.inputs.iter().copied());
    }
    let mut renumbered = vec![None; count];
    let mut nodes = Vec::new();
    for (index, node) in model.nodes.iter().enumerate() {
        if !kept[index] {
            continue;
        }
        let id = NodeId(index);
        renumbered[index] = Some(NodeId(nodes.len()));
        nodes.push(if inputs.contains(&id) {
            Node {
                op: Op::Input,
                inputs: Vec::new(),
                ..node.clone()
            }
        } else {
            Node {
                inputs: node
                    .inputs
                    .iter()
                    .map(|i| renumbered[i.0])
                    .collect::<Option<_>>()?,
                ..node.clone()
            }
        });
    }
    let output_name = model
        .outputs
        .iter()
        .find(|(_, id)| *id == output)
        .map_or_else(|| model.node(output).name.clone(), |(n, _)| n.clone());
    Some(Model {
        name: model.name.clone(),
        span: model.span,
        inputs: inputs
            .iter()
            .map(|i| renumbered[i.0])
            .collect::<Option<_>>()?,
        outputs: vec![(output_name, renumbered[output.0]?)],
        nodes,
        layers: model.layers.clone(),
        cost: None,
        input_costs: Vec::new(),
        penalties: Vec::new(),
        regularizers: Vec::new(),
        cost_name: None,
        zero_states: Vec::new(),
        carry: false,
        unrolls: Vec::new(),
    })
}

/// The noise sources (`normal(shape)`, `uniform(shape)`) that `output`
/// reads, in node order.
pub fn noise_read_by(model: &Model, output: NodeId) -> Vec<NodeId> {
    let mut seen = vec![false; model.nodes.len()];
    let mut stack = vec![output];
    while let Some(id) = stack.pop() {
        if id.0 >= seen.len() || std::mem::replace(&mut seen[id.0], true) {
            continue;
        }
        stack.extend(model.node(id).inputs.iter().copied());
    }
    (0..model.nodes.len())
        .filter(|&i| seen[i] && matches!(model.nodes[i].op, Op::Noise(_)))
        .map(NodeId)
        .collect()
}

/// The code a model's `output` is decoded from: the first node (in node
/// order) that reads noise and through which every model input and every
/// noise source reaches `output` (a VAE's `z`). `None` when there is none,
/// for instance for a model that draws no noise.
pub fn latent(model: &Model, output: NodeId) -> Option<NodeId> {
    let noise = noise_read_by(model, output);
    (0..model.nodes.len()).map(NodeId).find(|&candidate| {
        candidate != output
            && noise.iter().any(|n| reads(model, candidate, *n))
            && part(model, &[candidate], output).is_some()
    })
}

/// Whether `node` reads `source`, directly or not (or is it).
fn reads(model: &Model, node: NodeId, source: NodeId) -> bool {
    let mut seen = vec![false; model.nodes.len()];
    let mut stack = vec![node];
    while let Some(id) = stack.pop() {
        if id == source {
            return true;
        }
        if id.0 >= seen.len() || std::mem::replace(&mut seen[id.0], true) {
            continue;
        }
        stack.extend(model.node(id).inputs.iter().copied());
    }
    false
}
