//! Recurrent layers (`rnn`, `lstm`, `gru`) unrolled into IR ops.
//!
//! Each layer and direction computes the input's products for every step
//! at once (one `[batch * T, in] x [in, gates * units]` product with the
//! bias), then one recurrent product per step (`h_{t-1} W_hh^T`, all the
//! gates in one), the gates as slices of it and the cell's pointwise
//! arithmetic. Everything is an existing IR op, so the gradient
//! (backpropagation through time) is autodiff's, and every backend runs
//! it; autodiff joins the steps' slice gradients into one concatenation
//! and the compiled backends compile each step's kernels once (their code
//! does not depend on the step).

use super::Lowerer;
use nnc_check::program::{recurrent_suffix, Cell};
use nnc_ir::graph::{InputKind, NodeId, OutputKind};
use nnc_ir::ops::Op;
use nnc_ir::CompileError;

/// One recurrent node's facts, as the checker gave them.
pub(super) struct Recurrence {
    pub layer: usize,
    pub cell: Cell,
    pub units: usize,
    pub layers: usize,
    pub bidirectional: bool,
    pub all: bool,
}

impl Lowerer<'_> {
    /// Under `Model::carry`, outputs the value after the last step of each
    /// state `unroll` starts at zero (`Model::zero_states`), which the next
    /// batch starts from: output `carry(NAME)` of kind `Carry(k)`, `NAME`
    /// the start's node.
    pub(super) fn carried_outputs(&mut self) -> Result<(), CompileError> {
        if !self.model.carry {
            return Ok(());
        }
        for (k, (start, end)) in self.model.zero_states.iter().enumerate() {
            let value = self.value(*end)?;
            let name = format!("carry({})", self.model.node(*start).name);
            self.graph.add_output(name, OutputKind::Carry(k), value);
        }
        Ok(())
    }

    /// A recurrent layer's state at the start of the batch under
    /// `Model::carry`: the next carried state's input, `[batch, units]`,
    /// and its number.
    fn carried_start(&mut self, units: usize, name: &str) -> Result<(usize, NodeId), CompileError> {
        let k = self.next_carry;
        self.next_carry += 1;
        let shape = vec![self.graph.batch_size, units];
        let node = self.graph.input_or_add(InputKind::Carry(k), shape, name)?;
        Ok((k, node))
    }

    /// The value of recurrent node `index`: `[batch, T, units * dirs]`
    /// (every step) or `[batch, units * dirs]` (the last).
    pub(super) fn recurrent(
        &mut self,
        index: usize,
        r: &Recurrence,
    ) -> Result<NodeId, CompileError> {
        let name = self.model.nodes[index].name.clone();
        let mut input = self.operand(index, 0)?;
        let steps = self.graph.shape(input).get(1).copied().unwrap_or(0);
        let dirs = if r.bidirectional { 2 } else { 1 };
        let mut lasts = Vec::new();
        for layer in 0..r.layers {
            let mut per_dir: Vec<Vec<NodeId>> = Vec::with_capacity(dirs);
            lasts.clear();
            for reverse in [false, true].into_iter().take(dirs) {
                let suffix = recurrent_suffix(layer, reverse);
                let prefix = format!("{name}{}", suffix.replacen("_l", ".l", 1));
                let hs = self.direction(input, r, &suffix, reverse, &prefix)?;
                let last = if reverse { hs.first() } else { hs.last() };
                lasts.extend(last.copied());
                per_dir.push(hs);
            }
            let last_layer = layer + 1 == r.layers;
            if last_layer && !r.all {
                break;
            }
            let outs: Vec<NodeId> = (0..steps)
                .map(|t| {
                    if dirs == 1 {
                        Ok(per_dir[0][t])
                    } else {
                        let parts = vec![per_dir[0][t], per_dir[1][t]];
                        let op = Op::Concat { axis: 1, parts: 2 };
                        self.graph.add(op, parts, format!("{name}.l{layer}.h{t}"))
                    }
                })
                .collect::<Result<_, _>>()?;
            let stacked_name = if last_layer {
                name.clone()
            } else {
                format!("{name}.l{layer}.out")
            };
            input = self.stack(&outs, &stacked_name)?;
            if last_layer {
                return Ok(input);
            }
        }
        match lasts.as_slice() {
            [one] => {
                // A node of the model's name, so readers of the IR find it.
                let shape = self.graph.shape(*one).to_vec();
                self.graph.add(Op::Reshape { shape }, vec![*one], name)
            }
            parts => {
                let op = Op::Concat {
                    axis: 1,
                    parts: parts.len(),
                };
                self.graph.add(op, parts.to_vec(), name)
            }
        }
    }

    /// Per-step values `[batch, n]` stacked along a new time axis:
    /// `[batch, T, n]`.
    fn stack(&mut self, steps: &[NodeId], name: &str) -> Result<NodeId, CompileError> {
        let mut parts = Vec::with_capacity(steps.len());
        for &h in steps {
            let s = self.graph.shape(h).to_vec();
            let shape = vec![s[0], 1, s[1]];
            parts.push(
                self.graph
                    .add(Op::Reshape { shape }, vec![h], name.to_string())?,
            );
        }
        let op = Op::Concat {
            axis: 1,
            parts: parts.len(),
        };
        self.graph.add(op, parts, name.to_string())
    }

    /// One layer and direction over `input` `[batch, T, in]`: the hidden
    /// state of each step `[batch, units]`, in time order.
    fn direction(
        &mut self,
        input: NodeId,
        r: &Recurrence,
        suffix: &str,
        reverse: bool,
        prefix: &str,
    ) -> Result<Vec<NodeId>, CompileError> {
        let shape = self.graph.shape(input).to_vec();
        let (batch, steps, inputs) = (shape[0], shape[1], shape[2]);
        let u = r.units;
        let rows = r.cell.gates() * u;
        let w_ih = self.read_layer_param(r.layer, &format!("weight_ih{suffix}"))?;
        let w_hh = self.read_layer_param(r.layer, &format!("weight_hh{suffix}"))?;
        let (b_in, b_hh) = match r.cell {
            Cell::Gru => (
                self.read_layer_param(r.layer, &format!("bias_ih{suffix}"))?,
                Some(self.read_layer_param(r.layer, &format!("bias_hh{suffix}"))?),
            ),
            _ => (
                self.read_layer_param(r.layer, &format!("bias{suffix}"))?,
                None,
            ),
        };
        // Every step's input products at once.
        let g = &mut self.graph;
        let flat = g.add(
            Op::Reshape {
                shape: vec![batch * steps, inputs],
            },
            vec![input],
            format!("{prefix}.x"),
        )?;
        let product = Op::MatMul {
            ta: false,
            tb: true,
        };
        let xw = g.add(product.clone(), vec![flat, w_ih], format!("{prefix}.xw"))?;
        let xw = g.add(Op::BiasAdd, vec![xw, b_in], format!("{prefix}.xw"))?;
        let xw = g.add(
            Op::Reshape {
                shape: vec![batch, steps, rows],
            },
            vec![xw],
            format!("{prefix}.xw"),
        )?;
        let mut hs = vec![None; steps];
        let mut h: Option<NodeId> = None;
        let mut c: Option<NodeId> = None;
        // Under `bptt`, the state the previous batch ended with (a
        // backward direction starts at the window's end: never carried).
        let mut carried = Vec::new();
        if self.model.carry && !reverse {
            let (k, start) = self.carried_start(u, &format!("{prefix}.h_start"))?;
            h = Some(start);
            carried.push((k, "h"));
            if r.cell == Cell::Lstm {
                let (k, start) = self.carried_start(u, &format!("{prefix}.c_start"))?;
                c = Some(start);
                carried.push((k, "c"));
            }
        }
        let order: Vec<usize> = if reverse {
            (0..steps).rev().collect()
        } else {
            (0..steps).collect()
        };
        for t in order {
            let at = format!("{prefix}.t{t}");
            let g = &mut self.graph;
            let slice = Op::Slice {
                axis: 1,
                start: t,
                len: 1,
            };
            let xt = g.add(slice, vec![xw], format!("{at}.xw"))?;
            let xt = g.add(
                Op::Reshape {
                    shape: vec![batch, rows],
                },
                vec![xt],
                format!("{at}.xw"),
            )?;
            let gate = |g: &mut nnc_ir::Graph, of: NodeId, k: usize, what: &str| {
                let op = Op::Slice {
                    axis: 1,
                    start: k * u,
                    len: u,
                };
                g.add(op, vec![of], format!("{at}.{what}"))
            };
            let next = match r.cell {
                Cell::Rnn(act) => {
                    let z = match h {
                        Some(h) => {
                            let hw = g.add(product.clone(), vec![h, w_hh], format!("{at}.hw"))?;
                            g.add(Op::Add, vec![xt, hw], format!("{at}.z"))?
                        }
                        None => xt,
                    };
                    self.activation(z, act, &format!("{prefix}.h{t}"))?
                }
                Cell::Lstm => {
                    let z = match h {
                        Some(h) => {
                            let hw = g.add(product.clone(), vec![h, w_hh], format!("{at}.hw"))?;
                            g.add(Op::Add, vec![xt, hw], format!("{at}.z"))?
                        }
                        None => xt,
                    };
                    let i = gate(g, z, 0, "i")?;
                    let i = g.add(Op::Sigmoid, vec![i], format!("{at}.i"))?;
                    let f = gate(g, z, 1, "f")?;
                    let f = g.add(Op::Sigmoid, vec![f], format!("{at}.f"))?;
                    let cand = gate(g, z, 2, "g")?;
                    let cand = g.add(Op::Tanh, vec![cand], format!("{at}.g"))?;
                    let o = gate(g, z, 3, "o")?;
                    let o = g.add(Op::Sigmoid, vec![o], format!("{at}.o"))?;
                    let fresh = g.add(Op::Mul, vec![i, cand], format!("{at}.c"))?;
                    let cell = match c {
                        Some(c) => {
                            let kept = g.add(Op::Mul, vec![f, c], format!("{at}.c"))?;
                            g.add(Op::Add, vec![kept, fresh], format!("{prefix}.c{t}"))?
                        }
                        None => fresh,
                    };
                    c = Some(cell);
                    let squashed = g.add(Op::Tanh, vec![cell], format!("{at}.tanh_c"))?;
                    g.add(Op::Mul, vec![o, squashed], format!("{prefix}.h{t}"))?
                }
                Cell::Gru => {
                    let b_hh = b_hh.ok_or_else(|| CompileError::Internal {
                        what: "a GRU layer without its recurrent bias".into(),
                    })?;
                    let hb = match h {
                        Some(h) => {
                            let hw = g.add(product.clone(), vec![h, w_hh], format!("{at}.hw"))?;
                            g.add(Op::BiasAdd, vec![hw, b_hh], format!("{at}.hw"))?
                        }
                        None => g.add(
                            Op::Expand {
                                axes: vec![0],
                                shape: vec![batch, rows],
                            },
                            vec![b_hh],
                            format!("{at}.hw"),
                        )?,
                    };
                    let xr = gate(g, xt, 0, "xr")?;
                    let hr = gate(g, hb, 0, "hr")?;
                    let rz = g.add(Op::Add, vec![xr, hr], format!("{at}.r"))?;
                    let reset = g.add(Op::Sigmoid, vec![rz], format!("{at}.r"))?;
                    let xz = gate(g, xt, 1, "xz")?;
                    let hz = gate(g, hb, 1, "hz")?;
                    let zz = g.add(Op::Add, vec![xz, hz], format!("{at}.z"))?;
                    let update = g.add(Op::Sigmoid, vec![zz], format!("{at}.z"))?;
                    let xn = gate(g, xt, 2, "xn")?;
                    let hn = gate(g, hb, 2, "hn")?;
                    let rn = g.add(Op::Mul, vec![reset, hn], format!("{at}.n"))?;
                    let nz = g.add(Op::Add, vec![xn, rn], format!("{at}.n"))?;
                    let n = g.add(Op::Tanh, vec![nz], format!("{at}.n"))?;
                    // h = (1 - z) n + z h_prev = n + z (h_prev - n).
                    let gap = match h {
                        Some(h) => g.add(Op::Sub, vec![h, n], format!("{at}.gap"))?,
                        None => g.add(Op::Neg, vec![n], format!("{at}.gap"))?,
                    };
                    let moved = g.add(Op::Mul, vec![update, gap], format!("{at}.gap"))?;
                    g.add(Op::Add, vec![n, moved], format!("{prefix}.h{t}"))?
                }
            };
            h = Some(next);
            hs[t] = Some(next);
        }
        for (k, what) in carried {
            let end = if what == "h" { h } else { c };
            if let Some(end) = end {
                let name = format!("carry({prefix}.{what})");
                self.graph.add_output(name, OutputKind::Carry(k), end);
            }
        }
        hs.into_iter()
            .map(|h| {
                h.ok_or_else(|| CompileError::Internal {
                    what: "a recurrent step was not lowered".into(),
                })
            })
            .collect()
    }
}
