//! The last stage of the WGSL emitter: every value and temporary is
//! placed in device memory (`nnc_ir::plan::place` over lifetimes), the
//! dispatches are checked to read only what was written before them, and
//! identical shaders are shared.

use crate::kernels::Built;
use crate::loc::Loc;
use crate::program::{
    BufferRole, BufferSpec, Dispatch, EmitError, Range, ShaderKernel, ShaderProgram, Target,
    Upload, UploadKind,
};
use nnc_ir::plan::{lifetimes, place, Lifetime, Outputs};
use nnc_ir::{Graph, InputKind, NodeId, Op};
use std::collections::HashMap;

/// A kernel's scratch memory: the kernel, its request's index among
/// the placement requests, and its temporaries `(body value, length)`.
type ScratchRequest = (NodeId, usize, Vec<(usize, usize)>);

/// A dispatch before memory placement.
pub(crate) struct Launch {
    pub built: Built,
    pub name: String,
    pub locs: Vec<Loc>,
    /// The locations it writes (the rest it only reads).
    pub writes: Vec<Loc>,
    pub origin: NodeId,
}

/// What the walk over a graph's kernels (module `emit`) collected.
pub(crate) struct Collected<'g> {
    pub graph: &'g Graph,
    pub target: &'g Target,
    pub launches: Vec<Launch>,
    /// `(kernel, body value, length)` of every stored temporary.
    pub temps: Vec<(NodeId, usize, usize)>,
    /// `(node, what, length, name)` of every upload.
    pub uploads: Vec<(NodeId, UploadKind, usize, String)>,
    /// Graph nodes whose value lives somewhere other than their own place
    /// (a yielded dropout mask lives in its upload buffer).
    pub homes: HashMap<NodeId, Loc>,
}

fn internal(message: &str) -> EmitError {
    EmitError::Internal {
        message: message.to_string(),
    }
}

fn count(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Places memory and assembles the program from what the walk over
/// the kernels collected.
pub(crate) fn finish(c: Collected<'_>, outputs: Outputs) -> Result<ShaderProgram, EmitError> {
    let graph = c.graph;
    let target = c.target;
    let align = target.alignment_elements();
    let unit = align / 16;
    let binding_limit = target.max_storage_buffer_binding_size;
    let too_large = |tensor: &str, len: usize| -> Result<(), EmitError> {
        let bytes = len as u64 * 4;
        if bytes > binding_limit {
            return Err(EmitError::TooLarge {
                tensor: tensor.to_string(),
                bytes,
                limit: binding_limit,
                limit_name: "max_storage_buffer_binding_size",
            });
        }
        Ok(())
    };
    let (live, steps) = lifetimes(graph, outputs);
    // Requests: node values, then each kernel's scratch.
    let mut requests: Vec<(Lifetime, usize)> = Vec::new();
    let mut node_request: Vec<Option<usize>> = vec![None; graph.len()];
    for id in graph.ids() {
        let node = graph.node(id);
        too_large(&node.name, count(&node.shape))?;
        if let Op::Input { .. } = node.op {
            continue;
        }
        if c.homes.contains_key(&id) {
            continue;
        }
        if let Some(lifetime) = live[id.index()] {
            node_request[id.index()] = Some(requests.len());
            let len = count(&node.shape).max(1);
            requests.push((lifetime, len.div_ceil(unit)));
        }
    }
    let mut scratch: Vec<ScratchRequest> = Vec::new();
    for &(kernel, j, len) in &c.temps {
        too_large(&graph.node(kernel).name, len)?;
        match scratch.iter_mut().find(|(k, _, _)| *k == kernel) {
            Some((_, _, slots)) => slots.push((j, len)),
            None => scratch.push((kernel, 0, vec![(j, len)])),
        }
    }
    for entry in &mut scratch {
        let step = live[entry.0.index()]
            .map(|l| l.first)
            .ok_or_else(|| internal("a kernel with temporaries has no step"))?;
        let total: usize = entry
            .2
            .iter()
            .map(|&(_, len)| len.div_ceil(align) * align)
            .sum();
        entry.1 = requests.len();
        requests.push((
            Lifetime {
                first: step,
                last: step,
            },
            total.div_ceil(unit),
        ));
    }
    let placement = place(&requests);
    let offset_of = |r: usize| placement.offsets[r] * unit;
    let arena_len = (placement.arena_len * unit).max(1);
    if arena_len as u64 * 4 > target.max_buffer_size {
        return Err(EmitError::TooLarge {
            tensor: "working memory".to_string(),
            bytes: arena_len as u64 * 4,
            limit: target.max_buffer_size,
            limit_name: "max_buffer_size",
        });
    }
    // Buffers: inputs, the working memory, uploads.
    let mut buffers = Vec::new();
    let mut input_buffer: HashMap<NodeId, usize> = HashMap::new();
    for (kind, id) in graph.inputs() {
        if kind == InputKind::StepSeed {
            continue;
        }
        input_buffer.insert(id, buffers.len());
        buffers.push(BufferSpec {
            name: graph.node(id).name.clone(),
            len: count(graph.shape(id)).max(1),
            role: BufferRole::Input(kind),
        });
    }
    let work = buffers.len();
    buffers.push(BufferSpec {
        name: "arena".to_string(),
        len: arena_len,
        role: BufferRole::Work,
    });
    let mut uploads = Vec::new();
    for (node, what, len, name) in &c.uploads {
        too_large(name, *len)?;
        let buffer = buffers.len();
        buffers.push(BufferSpec {
            name: name.clone(),
            len: *len,
            role: BufferRole::Upload,
        });
        uploads.push(Upload {
            range: Range {
                buffer,
                offset: 0,
                len: *len,
            },
            what: *what,
            node: *node,
        });
    }
    let node_range = |id: NodeId| -> Option<Range> {
        let len = count(graph.shape(id)).max(1);
        if let Some(&buffer) = input_buffer.get(&id) {
            return Some(Range {
                buffer,
                offset: 0,
                len,
            });
        }
        if let Some(Loc::Upload(u)) = c.homes.get(&id) {
            return uploads.get(*u).map(|up| up.range);
        }
        node_request[id.index()].map(|r| Range {
            buffer: work,
            offset: offset_of(r),
            len,
        })
    };
    let resolve = |loc: Loc| -> Result<Range, EmitError> {
        match loc {
            Loc::Node(id) => {
                node_range(id).ok_or_else(|| internal("a value without memory is bound"))
            }
            Loc::Upload(u) => uploads
                .get(u)
                .map(|up| up.range)
                .ok_or_else(|| internal("a missing upload is bound")),
            Loc::Temp(kernel, j) => {
                let (_, request, slots) = scratch
                    .iter()
                    .find(|(k, _, _)| *k == kernel)
                    .ok_or_else(|| internal("a temporary without scratch"))?;
                let mut at = offset_of(*request);
                for &(v, len) in slots {
                    if v == j {
                        return Ok(Range {
                            buffer: work,
                            offset: at,
                            len,
                        });
                    }
                    at += len.div_ceil(align) * align;
                }
                Err(internal("a temporary without a slot"))
            }
        }
    };
    // Every dispatch reads only what an earlier dispatch wrote (or
    // the host provides), and writes nothing it reads.
    let mut written: std::collections::HashSet<Loc> = std::collections::HashSet::new();
    for launch in &c.launches {
        for loc in &launch.locs {
            let provided = match *loc {
                Loc::Node(id) => matches!(graph.node(id).op, Op::Input { .. }),
                Loc::Upload(_) => true,
                Loc::Temp(..) => false,
            };
            if !launch.writes.contains(loc) && !provided && !written.contains(loc) {
                return Err(EmitError::Internal {
                    message: format!(
                        "dispatch `{}` reads {loc:?} before anything writes it",
                        launch.name
                    ),
                });
            }
        }
        for loc in &launch.writes {
            if !written.insert(*loc) {
                return Err(EmitError::Internal {
                    message: format!("dispatch `{}` writes {loc:?} a second time", launch.name),
                });
            }
        }
    }
    let mut kernels: Vec<ShaderKernel> = Vec::new();
    let mut by_source: HashMap<String, usize> = HashMap::new();
    let mut dispatches = Vec::new();
    for launch in c.launches {
        let ranges = launch
            .locs
            .iter()
            .map(|&l| resolve(l))
            .collect::<Result<Vec<_>, _>>()?;
        let built = launch.built;
        let index = match by_source.get(&built.source) {
            Some(&i) => i,
            None => {
                kernels.push(ShaderKernel {
                    name: launch.name.clone(),
                    variant: built.variant.clone(),
                    reason: built.reason.clone(),
                    source: built.source.clone(),
                    entry_point: "main".to_string(),
                    bindings: built.bindings.clone(),
                    workgroup_size: built.workgroup_size,
                });
                by_source.insert(built.source.clone(), kernels.len() - 1);
                kernels.len() - 1
            }
        };
        dispatches.push(Dispatch {
            kernel: index,
            ranges,
            workgroups: built.workgroups,
            origin: launch.origin,
        });
    }
    let node_values = graph
        .ids()
        .map(|id| {
            if input_buffer.contains_key(&id) || c.homes.contains_key(&id) {
                return node_range(id);
            }
            let kept = live[id.index()].is_some_and(|l| l.last >= steps);
            if kept {
                node_range(id)
            } else {
                None
            }
        })
        .collect();
    Ok(ShaderProgram {
        graph: graph.clone(),
        buffers,
        kernels,
        dispatches,
        uploads,
        node_values,
    })
}
