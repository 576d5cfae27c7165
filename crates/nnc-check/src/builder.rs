//! The model builder: the graph of one model as the checker expands it.
//!
//! Nodes are appended as they are created, so every node's inputs come
//! before it and the node list is in topological order by construction.
//! Parameter sets (`layers`) are created by dense and conv2d nodes; inside a
//! `layer` instance they are shared: the k-th parameter set created by any
//! use of the instance is the k-th set of its first use.
//!
//! Node names are given at the end ([`Builder::node_names`]): a node bound by
//! `let`/`output` takes that name, others the name of their layer, numbered
//! (`dense_1`, `dense_2`) when a name occurs more than once in its scope;
//! nodes inside a block instantiation are prefixed by it
//! (`conv_pool_2.conv2d`).

use crate::program::{Activation, Layer, LayerId, Node, NodeId, Op, Param, Shape};
use crate::value::LayerFn;
use nnc_diag::check::Derivation;
use nnc_diag::Span;
use std::collections::HashMap;

/// The most nodes one model may expand to; beyond it, expansion stops
/// with an error instead of exhausting memory.
pub(crate) const NODE_LIMIT: usize = 100_000;

/// What activation a node's output went through last, for the cost lints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutAct {
    Act(Activation),
    /// No activation: an input, a pool, an elementwise operation.
    Plain,
    /// The activation argument was invalid (already reported).
    Unknown,
}

#[derive(Clone, Debug)]
pub(crate) struct NodeDraft {
    pub naming: usize,
    pub base: String,
    pub seq: usize,
    /// The `let`/`output` name bound to this node, if any.
    pub bound: Option<String>,
    pub op: Op,
    pub inputs: Vec<NodeId>,
    pub shape: Shape,
    pub span: Span,
    pub derivation: Derivation,
    pub act: OutAct,
}

#[derive(Clone, Debug)]
pub(crate) struct LayerDraft {
    /// The layer's parameter declarations, in order.
    pub params: Vec<Param>,
    pub fan_in: usize,
    pub fan_out: usize,
    pub span: Span,
    /// The instance name, for the parameters of a one-layer `layer` instance.
    pub name_hint: Option<String>,
    pub first_node: Option<NodeId>,
}

/// A `layer` instance of the model.
#[derive(Clone, Debug)]
pub(crate) struct Instance {
    pub name: String,
    pub span: Span,
    pub layer: LayerFn,
    /// The parameter sets of the first use: id, the shapes of their
    /// declarations, where.
    pub weights: Vec<(LayerId, Vec<Shape>, Span)>,
}

#[derive(Clone, Debug)]
struct NamingScope {
    parent: usize,
    base: String,
    seq: usize,
}

/// A shared instance applied to inputs that need other weights.
pub(crate) struct SharedMismatch {
    pub name: String,
    /// The shape of the first declaration that differs, at the first use
    /// and now.
    pub first: Shape,
    pub now: Shape,
    pub first_span: Span,
}

#[derive(Debug)]
pub(crate) struct Builder {
    pub nodes: Vec<NodeDraft>,
    pub layers: Vec<LayerDraft>,
    pub instances: Vec<Instance>,
    /// Instances being applied: (instance, next parameter-set ordinal).
    sharing: Vec<(usize, usize)>,
    naming: Vec<NamingScope>,
    next_seq: usize,
    /// Set once the node limit was hit (reported once).
    pub limit_hit: bool,
    /// The states `unroll` starts at zero: (zeros node, final value node).
    pub zero_states: Vec<(NodeId, NodeId)>,
    /// Where each `unroll`'s steps lie.
    pub unrolls: Vec<crate::program::Unrolled>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder {
            nodes: Vec::new(),
            layers: Vec::new(),
            instances: Vec::new(),
            sharing: Vec::new(),
            naming: vec![NamingScope {
                parent: 0,
                base: String::new(),
                seq: 0,
            }],
            next_seq: 1,
            limit_hit: false,
            zero_states: Vec::new(),
            unrolls: Vec::new(),
        }
    }

    fn seq(&mut self) -> usize {
        self.next_seq += 1;
        self.next_seq
    }

    /// A naming scope for a block instantiation or a composite instance.
    pub fn child_scope(&mut self, parent: usize, base: &str) -> usize {
        let seq = self.seq();
        self.naming.push(NamingScope {
            parent,
            base: base.to_string(),
            seq,
        });
        self.naming.len() - 1
    }

    pub fn full(&self) -> bool {
        self.nodes.len() >= NODE_LIMIT
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add_node(
        &mut self,
        naming: usize,
        base: &str,
        op: Op,
        inputs: Vec<NodeId>,
        shape: Shape,
        span: Span,
        derivation: Derivation,
        act: OutAct,
    ) -> NodeId {
        let seq = self.seq();
        let id = NodeId(self.nodes.len());
        if let Some(layer) = op.layer() {
            if let Some(l) = self.layers.get_mut(layer.0) {
                l.first_node.get_or_insert(id);
            }
        }
        self.nodes.push(NodeDraft {
            naming,
            base: base.to_string(),
            seq,
            bound: None,
            op,
            inputs,
            shape,
            span,
            derivation,
            act,
        });
        id
    }

    pub fn node(&self, id: NodeId) -> Option<&NodeDraft> {
        self.nodes.get(id.0)
    }

    /// Names a node after a `let` or `output`, unless it has a name already.
    pub fn bind_name(&mut self, id: NodeId, name: &str) {
        if let Some(node) = self.nodes.get_mut(id.0) {
            if node.bound.is_none() && node.op != Op::Input {
                node.bound = Some(name.to_string());
            }
        }
    }

    pub fn start_instance(&mut self, instance: usize) {
        self.sharing.push((instance, 0));
    }

    pub fn end_instance(&mut self) {
        self.sharing.pop();
    }

    /// The parameter set for a new dense or conv2d node: a fresh one, or
    /// inside a `layer` instance the shared one of the first use.
    pub fn param_layer(
        &mut self,
        mut draft: LayerDraft,
        site: Span,
    ) -> Result<LayerId, SharedMismatch> {
        let Some((instance, ordinal)) = self.sharing.last().copied() else {
            return Ok(self.push_layer(draft));
        };
        if let Some(top) = self.sharing.last_mut() {
            top.1 += 1;
        }
        let Some(inst) = self.instances.get(instance) else {
            return Ok(self.push_layer(draft));
        };
        if let Some((id, shapes, span)) = inst.weights.get(ordinal) {
            let now: Vec<&Shape> = draft.params.iter().map(|p| &p.shape).collect();
            let differs = (0..shapes.len().max(now.len()))
                .find(|&i| shapes.get(i) != now.get(i).copied())
                .map(|i| {
                    (
                        shapes.get(i).cloned().unwrap_or_default(),
                        now.get(i).map(|s| (*s).clone()).unwrap_or_default(),
                    )
                });
            return match differs {
                None => Ok(*id),
                Some((first, now)) => Err(SharedMismatch {
                    name: inst.name.clone(),
                    first,
                    now,
                    first_span: *span,
                }),
            };
        }
        if matches!(inst.layer, LayerFn::Builtin(_)) {
            draft.name_hint = Some(inst.name.clone());
        }
        let shapes = draft.params.iter().map(|p| p.shape.clone()).collect();
        let id = self.push_layer(draft);
        if let Some(inst) = self.instances.get_mut(instance) {
            inst.weights.push((id, shapes, site));
        }
        Ok(id)
    }

    fn push_layer(&mut self, draft: LayerDraft) -> LayerId {
        self.layers.push(draft);
        LayerId(self.layers.len() - 1)
    }

    /// The path prefix of a naming scope: `""`, `"conv_pool_2."`.
    fn prefix(&self, scope: usize, labels: &HashMap<usize, String>) -> String {
        let mut parts = Vec::new();
        let mut at = scope;
        // Scopes only point to earlier scopes, so this walk ends at the root.
        while at != 0 {
            let Some(s) = self.naming.get(at) else { break };
            parts.push(labels.get(&at).cloned().unwrap_or_else(|| s.base.clone()));
            if s.parent >= at {
                break;
            }
            at = s.parent;
        }
        parts.reverse();
        parts.iter().map(|p| format!("{p}.")).collect()
    }

    /// Unique readable names for all nodes, in node order.
    pub fn node_names(&self) -> Vec<String> {
        // Group naming scopes and unbound nodes by (parent scope, base name).
        #[derive(Clone, Copy)]
        enum Member {
            Scope(usize),
            Node(usize),
        }
        let mut groups: HashMap<(usize, &str), Vec<(usize, Member)>> = HashMap::new();
        for (i, s) in self.naming.iter().enumerate().skip(1) {
            groups
                .entry((s.parent, s.base.as_str()))
                .or_default()
                .push((s.seq, Member::Scope(i)));
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if n.bound.is_none() {
                groups
                    .entry((n.naming, n.base.as_str()))
                    .or_default()
                    .push((n.seq, Member::Node(i)));
            }
        }
        let mut scope_labels: HashMap<usize, String> = HashMap::new();
        let mut node_labels: HashMap<usize, String> = HashMap::new();
        for ((_, base), mut members) in groups {
            members.sort_by_key(|(seq, _)| *seq);
            let numbered = members.len() > 1;
            for (k, (_, member)) in members.into_iter().enumerate() {
                let label = if numbered {
                    format!("{base}_{}", k + 1)
                } else {
                    base.to_string()
                };
                match member {
                    Member::Scope(i) => scope_labels.insert(i, label),
                    Member::Node(i) => node_labels.insert(i, label),
                };
            }
        }
        let mut taken: HashMap<String, usize> = HashMap::new();
        let mut names = Vec::with_capacity(self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate() {
            let leaf = match &n.bound {
                Some(b) => b.clone(),
                None => node_labels
                    .get(&i)
                    .cloned()
                    .unwrap_or_else(|| n.base.clone()),
            };
            let name = format!("{}{leaf}", self.prefix(n.naming, &scope_labels));
            names.push(unique(name, &mut taken));
        }
        names
    }

    /// The program's nodes and layers (call only when every node is known).
    pub fn finish(&self) -> (Vec<Node>, Vec<Layer>) {
        let names = self.node_names();
        let nodes: Vec<Node> = self
            .nodes
            .iter()
            .zip(names.iter())
            .map(|(n, name)| Node {
                name: name.clone(),
                op: n.op.clone(),
                inputs: n.inputs.clone(),
                shape: n.shape.clone(),
                span: n.span,
            })
            .collect();
        let mut taken: HashMap<String, usize> = HashMap::new();
        let layers = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let name = l
                    .name_hint
                    .clone()
                    .or_else(|| l.first_node.and_then(|id| names.get(id.0).cloned()))
                    .unwrap_or_else(|| format!("layer_{}", i + 1));
                Layer {
                    name: unique(name, &mut taken),
                    params: l.params.clone(),
                    fan_in: l.fan_in,
                    fan_out: l.fan_out,
                    span: l.span,
                }
            })
            .collect();
        (nodes, layers)
    }
}

/// `name`, or `name_2`, `name_3`... if taken.
fn unique(name: String, taken: &mut HashMap<String, usize>) -> String {
    let count = taken.entry(name.clone()).or_insert(0);
    *count += 1;
    if *count == 1 {
        return name;
    }
    let mut k = *count;
    loop {
        let candidate = format!("{name}_{k}");
        if !taken.contains_key(&candidate) {
            taken.insert(candidate.clone(), 1);
            return candidate;
        }
        k += 1;
    }
}
