//! The walk of [`plan_kernel`] over a fused kernel's body.

use super::{Epilogue, Group, KernelPlan, Member, Operand, PlanError, Product, Read, Step, Target};
use crate::fused::{Arg, FusedKernel};
use crate::ops::Op;

/// The plan of kernel `k` whose inputs have shapes `inputs`, for
/// `target` (see the module documentation).
pub fn plan_kernel(
    k: &FusedKernel,
    inputs: &[&[usize]],
    target: &Target<'_>,
) -> Result<KernelPlan, PlanError> {
    let n = k.body.len();
    let mut w = Walk {
        k,
        inputs,
        target,
        yielded: vec![false; n],
        consumers: vec![Vec::new(); n],
        absorbed: vec![false; n],
        virtuals: vec![false; n],
        stored_virtual: vec![false; n],
        open: Vec::new(),
        steps: Vec::new(),
    };
    for &v in &k.outputs {
        if w.yielded.get(v).copied().unwrap_or(true) {
            return Err(PlanError::Internal(
                "a kernel yields a value twice or one it lacks",
            ));
        }
        w.yielded[v] = true;
    }
    let masks: Vec<usize> = if target.masks_ready {
        (0..n).filter(|&j| w.is_mask(j)).collect()
    } else {
        Vec::new()
    };
    for (j, op) in k.body.iter().enumerate() {
        for arg in &op.args {
            if let Arg::Value(i) = *arg {
                if i < n {
                    w.consumers[i].push(j);
                }
            }
        }
    }
    for j in 0..n {
        if w.absorbed[j] || (target.masks_ready && w.is_mask(j)) {
            continue;
        }
        let op = &k.body[j];
        if w.in_group(j) {
            let virtual_ = target.virtual_scalars
                && op.shape.is_empty()
                && op.args.iter().all(|&a| w.count(a) == 1)
                && !w.yielded[j];
            // Open groups holding an operand are closed first when they
            // have another shape (a virtual scalar reads stored values
            // only).
            for arg in &op.args {
                if let Arg::Value(i) = *arg {
                    if let Some(g) = w
                        .open
                        .iter()
                        .position(|(shape, m)| m.contains(&i) && (virtual_ || *shape != op.shape))
                    {
                        let (shape, members) = w.open.remove(g);
                        w.close(shape, &members)?;
                    }
                }
            }
            if virtual_ {
                w.virtuals[j] = true;
                continue;
            }
            match w.open.iter_mut().find(|(shape, _)| *shape == op.shape) {
                Some((_, members)) => members.push(j),
                None => w.open.push((op.shape.clone(), vec![j])),
            }
        } else {
            for (shape, members) in std::mem::take(&mut w.open) {
                w.close(shape, &members)?;
            }
            w.single(j)?;
        }
    }
    for (shape, members) in std::mem::take(&mut w.open) {
        w.close(shape, &members)?;
    }
    Ok(KernelPlan {
        steps: w.steps,
        yielded: w.yielded,
        virtuals: w.virtuals,
        masks,
    })
}

struct Walk<'k, 't> {
    k: &'k FusedKernel,
    inputs: &'k [&'k [usize]],
    target: &'k Target<'t>,
    yielded: Vec<bool>,
    consumers: Vec<Vec<usize>>,
    absorbed: Vec<bool>,
    virtuals: Vec<bool>,
    /// Virtual scalars a step that is not a group read, so stored.
    stored_virtual: Vec<bool>,
    /// Open pointwise groups: their shape and members (body values).
    open: Vec<(Vec<usize>, Vec<usize>)>,
    steps: Vec<Step>,
}

impl Walk<'_, '_> {
    fn shape(&self, arg: Arg) -> &[usize] {
        match arg {
            Arg::Input(k) => self.inputs.get(k).copied().unwrap_or(&[]),
            Arg::Value(i) => self.k.body.get(i).map_or(&[][..], |op| op.shape.as_slice()),
        }
    }

    fn count(&self, arg: Arg) -> usize {
        self.shape(arg).iter().product()
    }

    fn is_mask(&self, j: usize) -> bool {
        matches!(
            self.k.body[j].op,
            Op::DropoutMask { .. } | Op::Random { .. }
        )
    }

    /// Whether body op `j` is computed by a group of the target.
    fn in_group(&self, j: usize) -> bool {
        let op = &self.k.body[j];
        let shapes: Vec<&[usize]> = op.args.iter().map(|&a| self.shape(a)).collect();
        op.op.is_pointwise() && self.target.groups(&op.op, &shapes, &op.shape)
    }

    /// How operand `index` of body op `j` is read in a group of `shape`.
    fn read(&self, j: usize, index: usize, shape: &[usize]) -> Result<Read, PlanError> {
        let op = &self.k.body[j];
        let arg = op.args[index];
        op.op
            .operand_access(index, self.shape(arg), shape)
            .map(|access| Read::of(access, shape))
            .ok_or(PlanError::Unreadable {
                value: j,
                operand: index,
            })
    }

    /// Closes the group of `members` (of `shape`): a step storing the
    /// members read outside it or yielded, if any.
    fn close(&mut self, shape: Vec<usize>, members: &[usize]) -> Result<(), PlanError> {
        let mut group = empty(shape);
        for &m in members {
            let mut operands = Vec::new();
            for (index, &arg) in self.k.body[m].args.iter().enumerate() {
                if let Arg::Value(i) = arg {
                    if let Some(l) = members.iter().position(|&x| x == i) {
                        operands.push(Operand::Member(l));
                        continue;
                    }
                    if self.virtuals[i] {
                        operands.push(Operand::Virtual(self.add_virtual(&mut group, i)));
                        continue;
                    }
                }
                let read = self.read(m, index, &group.shape)?;
                operands.push(Operand::Read(read_index(&mut group, arg, read)));
            }
            group.members.push(Member {
                value: m,
                op: self.k.body[m].op.clone(),
                operands,
            });
        }
        for (l, &m) in members.iter().enumerate() {
            let outside = self.consumers[m].iter().any(|c| !members.contains(c));
            if self.yielded[m] || outside {
                group.stores.push(l);
            }
        }
        if !group.stores.is_empty() {
            self.steps.push(Step::Group(group));
        }
        Ok(())
    }

    /// Adds virtual scalar `i` (and the virtual scalars it reads) to
    /// `group`; its index among the group's virtuals.
    fn add_virtual(&self, group: &mut Group, i: usize) -> usize {
        if let Some(v) = group.virtuals.iter().position(|m| m.value == i) {
            return v;
        }
        let op = &self.k.body[i];
        let mut operands = Vec::new();
        for &arg in &op.args {
            match arg {
                Arg::Value(k) if self.virtuals[k] => {
                    operands.push(Operand::Virtual(self.add_virtual(group, k)))
                }
                _ => operands.push(Operand::Read(read_index(group, arg, Read::Scalar))),
            }
        }
        group.virtuals.push(Member {
            value: i,
            op: op.op.clone(),
            operands,
        });
        group.virtuals.len() - 1
    }

    /// Body op `j`, which no group computes.
    fn single(&mut self, j: usize) -> Result<(), PlanError> {
        // Virtual operands are stored first, each by a group of its own.
        for &arg in &self.k.body[j].args {
            if let Arg::Value(i) = arg {
                if self.virtuals[i] && !self.stored_virtual[i] {
                    let mut group = empty(Vec::new());
                    let mut operands = Vec::new();
                    for &a in &self.k.body[i].args {
                        operands.push(match a {
                            Arg::Value(v) if self.virtuals[v] => {
                                Operand::Virtual(self.add_virtual(&mut group, v))
                            }
                            _ => {
                                let read = self.read(i, operands.len(), &[])?;
                                Operand::Read(read_index(&mut group, a, read))
                            }
                        });
                    }
                    group.members.push(Member {
                        value: i,
                        op: self.k.body[i].op.clone(),
                        operands,
                    });
                    group.stores.push(0);
                    self.steps.push(Step::Group(group));
                    self.stored_virtual[i] = true;
                }
            }
        }
        if let Op::MatMul { ta, tb } = self.k.body[j].op {
            return self.product(j, ta, tb);
        }
        self.steps.push(Step::Single {
            value: j,
            class: self.k.body[j].op.class(),
        });
        Ok(())
    }

    /// Product `j` and the epilogue its target absorbs.
    fn product(&mut self, j: usize, ta: bool, tb: bool) -> Result<(), PlanError> {
        let (a, b) = match self.k.body[j].args.as_slice() {
            [a, b] => (*a, *b),
            _ => return Err(PlanError::Internal("a matrix product without two operands")),
        };
        let (&[a0, a1], &[b0, b1]) = (self.shape(a), self.shape(b)) else {
            return Err(PlanError::Internal(
                "a matrix product of operands that are not matrices",
            ));
        };
        let (m, k) = if ta { (a1, a0) } else { (a0, a1) };
        let n = if tb { b0 } else { b1 };
        let candidates = self.candidates(j);
        let mut product = Product {
            value: j,
            a,
            b,
            ta,
            tb,
            m,
            k,
            n,
            epilogue: empty(self.k.body[j].shape.clone()),
        };
        let absorbed = match self.target.epilogue {
            Epilogue::BiasActivation { library } => {
                let bias = |c: usize| {
                    let op = &self.k.body[c];
                    op.op == Op::BiasAdd && op.args.first() == Some(&Arg::Value(j))
                };
                let activation =
                    |c: usize| matches!(self.k.body[c].op, Op::Sigmoid | Op::Tanh | Op::Relu);
                match candidates.as_slice() {
                    _ if library(m, k, n) => 0,
                    [c, c2, ..] if bias(*c) && !self.yielded[*c] && activation(*c2) => 2,
                    [c, ..] if bias(*c) => 1,
                    _ => 0,
                }
            }
            Epilogue::Chain { fits } => {
                let mut count = 0;
                for len in 1..=candidates.len() {
                    product.epilogue = self.epilogue(j, &candidates[..len])?;
                    if !fits(&product) {
                        break;
                    }
                    count = len;
                }
                count
            }
        };
        let chain = &candidates[..absorbed];
        for &c in chain {
            self.absorbed[c] = true;
        }
        product.epilogue = self.epilogue(j, chain)?;
        self.steps.push(Step::Product(product));
        Ok(())
    }

    /// The pointwise ops after product `j` that an epilogue may absorb
    /// (see [`Epilogue`]).
    fn candidates(&self, j: usize) -> Vec<usize> {
        let shape = &self.k.body[j].shape;
        let mut chain = Vec::new();
        let mut last = j;
        loop {
            let next = match self.consumers[last].as_slice() {
                [c] if last != j || !self.yielded[j] => *c,
                _ => break,
            };
            let op = &self.k.body[next];
            if !self.in_group(next) || op.shape != *shape {
                break;
            }
            let ready = op.args.iter().all(|&arg| match arg {
                Arg::Input(_) => true,
                Arg::Value(i) => i == last || i < j || (self.target.masks_ready && self.is_mask(i)),
            });
            if !ready {
                break;
            }
            chain.push(next);
            last = next;
        }
        chain
    }

    /// The epilogue group of product `j` over `chain`: stores the yielded
    /// members and the last.
    fn epilogue(&self, j: usize, chain: &[usize]) -> Result<Group, PlanError> {
        let mut group = empty(self.k.body[j].shape.clone());
        for (l, &c) in chain.iter().enumerate() {
            let mut operands = Vec::new();
            for (index, &arg) in self.k.body[c].args.iter().enumerate() {
                operands.push(match arg {
                    Arg::Value(i) if i == j => Operand::Product,
                    Arg::Value(i) if l > 0 && i == chain[l - 1] => Operand::Member(l - 1),
                    // A virtual scalar already stored is read.
                    Arg::Value(i) if self.virtuals[i] && !self.stored_virtual[i] => {
                        Operand::Virtual(self.add_virtual(&mut group, i))
                    }
                    _ => {
                        let read = self.read(c, index, &group.shape)?;
                        Operand::Read(read_index(&mut group, arg, read))
                    }
                });
            }
            group.members.push(Member {
                value: c,
                op: self.k.body[c].op.clone(),
                operands,
            });
            if self.yielded[c] || l + 1 == chain.len() {
                group.stores.push(l);
            }
        }
        Ok(group)
    }
}

fn empty(shape: Vec<usize>) -> Group {
    Group {
        shape,
        reads: Vec::new(),
        virtuals: Vec::new(),
        members: Vec::new(),
        stores: Vec::new(),
    }
}

/// The index of read `(arg, read)` in the group, added when new.
fn read_index(group: &mut Group, arg: Arg, read: Read) -> usize {
    match group.reads.iter().position(|&r| r == (arg, read)) {
        Some(k) => k,
        None => {
            group.reads.push((arg, read));
            group.reads.len() - 1
        }
    }
}
