use super::*;
use crate::fused::{FusedKernel, FusedOp, KernelKind};
use OpClass::{Pointwise, Random, Reduction, Row};

fn op(op: Op, args: &[Arg], shape: &[usize]) -> FusedOp {
    FusedOp {
        op,
        args: args.to_vec(),
        shape: shape.to_vec(),
        name: String::new(),
    }
}

fn kernel(body: Vec<FusedOp>, outputs: &[usize], inputs: &[&[usize]]) -> FusedKernel {
    let k = FusedKernel {
        kind: KernelKind::Elementwise,
        body,
        outputs: outputs.to_vec(),
    };
    k.shape(inputs).expect("a valid kernel");
    k
}

const NEVER: &dyn Fn(usize, usize, usize) -> bool = &|_, _, _| false;
const ALWAYS_FITS: &dyn Fn(&Product) -> bool = &|_| true;

/// The CPU's capabilities, with a product size the library never takes.
fn cpu() -> Target<'static> {
    Target {
        virtual_scalars: false,
        masks_ready: false,
        channel_reads: false,
        epilogue: Epilogue::BiasActivation { library: NEVER },
    }
}

/// WGSL's capabilities, with no binding limit.
fn wgsl() -> Target<'static> {
    Target {
        virtual_scalars: true,
        masks_ready: true,
        channel_reads: true,
        epilogue: Epilogue::Chain { fits: ALWAYS_FITS },
    }
}

fn groups(plan: &KernelPlan) -> Vec<&Group> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::Group(g) => Some(g),
            _ => None,
        })
        .collect()
}

fn members(g: &Group) -> Vec<usize> {
    g.members.iter().map(|m| m.value).collect()
}

/// `w - lr g` and a sum of the scaled gradient: a scalar op, a group,
/// a reduction.
fn update() -> (FusedKernel, Vec<&'static [usize]>) {
    let inputs: Vec<&[usize]> = vec![&[4, 3], &[4, 3], &[]];
    let k = kernel(
        vec![
            op(Op::Scale(-1.0), &[Arg::Input(2)], &[]),
            op(Op::ScaleBy, &[Arg::Input(1), Arg::Value(0)], &[4, 3]),
            op(Op::Add, &[Arg::Input(0), Arg::Value(1)], &[4, 3]),
            op(Op::SumAxes { axes: vec![0] }, &[Arg::Value(1)], &[3]),
        ],
        &[2, 3],
        &inputs,
    );
    (k, inputs)
}

#[test]
fn the_cpu_stores_a_scalar_op_that_wgsl_keeps_virtual() {
    let (k, inputs) = update();
    let plan = plan_kernel(&k, &inputs, &cpu()).unwrap();
    let g = groups(&plan);
    assert_eq!(plan.steps.len(), 3);
    // The scalar is a group of its own, closed when the matrix group
    // reads it, and stored.
    assert_eq!(members(g[0]), vec![0]);
    assert_eq!(g[0].stores, vec![0]);
    assert_eq!(members(g[1]), vec![1, 2]);
    // `$1` is read by the sum, `$2` is yielded.
    assert_eq!(g[1].stores, vec![0, 1]);
    assert_eq!(
        g[1].reads,
        vec![
            (Arg::Input(1), Read::Full),
            (Arg::Value(0), Read::Scalar),
            (Arg::Input(0), Read::Full)
        ]
    );
    assert_eq!(
        g[1].members[1].operands,
        vec![Operand::Read(2), Operand::Member(0)]
    );
    assert_eq!(
        plan.steps[2],
        Step::Single {
            value: 3,
            class: Reduction
        }
    );
    assert!(!plan.virtuals.iter().any(|&v| v));

    let plan = plan_kernel(&k, &inputs, &wgsl()).unwrap();
    assert_eq!(plan.steps.len(), 2);
    assert_eq!(plan.virtuals, vec![true, false, false, false]);
    let g = groups(&plan);
    assert_eq!(members(g[0]), vec![1, 2]);
    assert_eq!(g[0].virtuals.len(), 1);
    assert_eq!(g[0].virtuals[0].value, 0);
    assert_eq!(g[0].virtuals[0].operands, vec![Operand::Read(1)]);
    assert_eq!(
        g[0].members[0].operands,
        vec![Operand::Read(0), Operand::Virtual(0)]
    );
    assert_eq!(g[0].reads[1], (Arg::Input(2), Read::Scalar));
}

#[test]
fn a_virtual_scalar_read_by_a_step_that_is_not_a_group_is_stored_first() {
    let inputs: Vec<&[usize]> = vec![&[2, 3], &[]];
    let k = kernel(
        vec![
            op(Op::Scale(0.5), &[Arg::Input(1)], &[]),
            op(
                Op::Expand {
                    axes: vec![0, 1],
                    shape: vec![2, 3],
                },
                &[Arg::Value(0)],
                &[2, 3],
            ),
            op(Op::Softmax, &[Arg::Input(0)], &[2, 3]),
            op(Op::SumAxes { axes: vec![] }, &[Arg::Value(0)], &[]),
        ],
        &[1, 2, 3],
        &inputs,
    );
    let plan = plan_kernel(&k, &inputs, &wgsl()).unwrap();
    assert!(plan.virtuals[0]);
    // The expand, which reads the virtual inline, is closed by the
    // softmax; the sum reads the virtual from memory.
    let g = groups(&plan);
    assert_eq!(plan.steps.len(), 4);
    assert_eq!(members(g[0]), vec![1]);
    assert_eq!(g[0].members[0].operands, vec![Operand::Virtual(0)]);
    assert_eq!(
        plan.steps[1],
        Step::Single {
            value: 2,
            class: Row
        }
    );
    assert_eq!(members(g[1]), vec![0]);
    assert_eq!(g[1].stores, vec![0]);
    assert_eq!(g[1].reads, vec![(Arg::Input(1), Read::Full)]);
    assert_eq!(
        plan.steps[3],
        Step::Single {
            value: 3,
            class: Reduction
        }
    );
}

/// `square(relu(x w + b) - y)`.
fn layer() -> (FusedKernel, Vec<&'static [usize]>) {
    let inputs: Vec<&[usize]> = vec![&[2, 5], &[5, 3], &[3], &[2, 3]];
    let k = kernel(
        vec![
            op(
                Op::MatMul {
                    ta: false,
                    tb: false,
                },
                &[Arg::Input(0), Arg::Input(1)],
                &[2, 3],
            ),
            op(Op::BiasAdd, &[Arg::Value(0), Arg::Input(2)], &[2, 3]),
            op(Op::Relu, &[Arg::Value(1)], &[2, 3]),
            op(Op::Sub, &[Arg::Value(2), Arg::Input(3)], &[2, 3]),
            op(Op::Square, &[Arg::Value(3)], &[2, 3]),
        ],
        &[4],
        &inputs,
    );
    (k, inputs)
}

fn product(plan: &KernelPlan) -> &Product {
    match &plan.steps[0] {
        Step::Product(p) => p,
        other => panic!("not a product: {other:?}"),
    }
}

#[test]
fn the_cpu_cuts_an_epilogue_after_bias_and_relu_where_wgsl_keeps_going() {
    let (k, inputs) = layer();
    let plan = plan_kernel(&k, &inputs, &cpu()).unwrap();
    let p = product(&plan);
    assert_eq!((p.m, p.k, p.n), (2, 5, 3));
    assert_eq!(members(&p.epilogue), vec![1, 2]);
    assert_eq!(
        p.epilogue.members[0].operands,
        vec![Operand::Product, Operand::Read(0)]
    );
    assert_eq!(p.epilogue.reads, vec![(Arg::Input(2), Read::Row)]);
    assert_eq!(p.last(), 2);
    assert_eq!(p.epilogue.stores, vec![1]);
    let g = groups(&plan);
    assert_eq!(plan.steps.len(), 2);
    assert_eq!(members(g[0]), vec![3, 4]);
    assert_eq!(g[0].stores, vec![1]);

    let plan = plan_kernel(&k, &inputs, &wgsl()).unwrap();
    assert_eq!(plan.steps.len(), 1);
    let p = product(&plan);
    assert_eq!(members(&p.epilogue), vec![1, 2, 3, 4]);
    assert_eq!(p.epilogue.stores, vec![3]);
    assert_eq!(p.last(), 4);
}

#[test]
fn a_library_product_absorbs_nothing_and_a_binding_limit_cuts_the_chain() {
    let (k, inputs) = layer();
    let always: &dyn Fn(usize, usize, usize) -> bool = &|_, _, _| true;
    let target = Target {
        epilogue: Epilogue::BiasActivation { library: always },
        ..cpu()
    };
    let plan = plan_kernel(&k, &inputs, &target).unwrap();
    assert!(product(&plan).epilogue.members.is_empty());
    assert_eq!(members(groups(&plan)[0]), vec![1, 2, 3, 4]);

    // One read besides the operands: the bias, not `y`.
    let one_read: &dyn Fn(&Product) -> bool = &|p| p.epilogue.reads.len() <= 1;
    let target = Target {
        epilogue: Epilogue::Chain { fits: one_read },
        ..wgsl()
    };
    let plan = plan_kernel(&k, &inputs, &target).unwrap();
    assert_eq!(members(&product(&plan).epilogue), vec![1, 2]);
    assert_eq!(members(groups(&plan)[0]), vec![3, 4]);
}

#[test]
fn a_yielded_bias_sum_ends_the_cpu_epilogue_and_is_stored_on_the_way_in_wgsl() {
    let (mut k, inputs) = layer();
    k.outputs = vec![4, 1];
    let plan = plan_kernel(&k, &inputs, &cpu()).unwrap();
    assert_eq!(members(&product(&plan).epilogue), vec![1]);
    let plan = plan_kernel(&k, &inputs, &wgsl()).unwrap();
    let p = product(&plan);
    assert_eq!(members(&p.epilogue), vec![1, 2, 3, 4]);
    assert_eq!(p.epilogue.stores, vec![0, 3]);
    assert_eq!(p.epilogue.stored_values().collect::<Vec<_>>(), vec![1, 4]);
}

#[test]
fn a_channel_bias_is_a_step_of_its_own_on_the_cpu() {
    let inputs: Vec<&[usize]> = vec![&[2, 4, 3, 3], &[4]];
    let k = kernel(
        vec![
            op(Op::BiasAdd, &[Arg::Input(0), Arg::Input(1)], &[2, 4, 3, 3]),
            op(Op::Relu, &[Arg::Value(0)], &[2, 4, 3, 3]),
        ],
        &[1],
        &inputs,
    );
    let plan = plan_kernel(&k, &inputs, &cpu()).unwrap();
    assert_eq!(
        plan.steps[0],
        Step::Single {
            value: 0,
            class: Pointwise
        }
    );
    assert_eq!(members(groups(&plan)[0]), vec![1]);
    let plan = plan_kernel(&k, &inputs, &wgsl()).unwrap();
    let g = groups(&plan);
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(members(g[0]), vec![0, 1]);
    assert_eq!(
        g[0].reads[1],
        (
            Arg::Input(1),
            Read::Channel {
                inner: 9,
                channels: 4
            }
        )
    );
}

#[test]
fn a_channel_broadcast_is_a_step_of_its_own_on_the_cpu() {
    let inputs: Vec<&[usize]> = vec![&[2, 4, 3, 3], &[4]];
    let expand = Op::Expand {
        axes: vec![0, 2, 3],
        shape: vec![2, 4, 3, 3],
    };
    let k = kernel(
        vec![
            op(expand, &[Arg::Input(1)], &[2, 4, 3, 3]),
            op(Op::Mul, &[Arg::Input(0), Arg::Value(0)], &[2, 4, 3, 3]),
        ],
        &[1],
        &inputs,
    );
    let plan = plan_kernel(&k, &inputs, &cpu()).unwrap();
    assert_eq!(
        plan.steps[0],
        Step::Single {
            value: 0,
            class: Pointwise
        }
    );
    assert_eq!(members(groups(&plan)[0]), vec![1]);
    let plan = plan_kernel(&k, &inputs, &wgsl()).unwrap();
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(members(groups(&plan)[0]), vec![0, 1]);
}

#[test]
fn dropout_masks_are_host_steps_on_the_cpu_and_uploads_in_wgsl() {
    let inputs: Vec<&[usize]> = vec![&[2, 3], &[]];
    let mask = Op::DropoutMask {
        p: 0.5,
        stream: 1,
        shape: vec![2, 3],
    };
    let k = kernel(
        vec![
            op(mask, &[Arg::Input(1)], &[2, 3]),
            op(Op::Mul, &[Arg::Input(0), Arg::Value(0)], &[2, 3]),
        ],
        &[1],
        &inputs,
    );
    let plan = plan_kernel(&k, &inputs, &cpu()).unwrap();
    assert_eq!(
        plan.steps[0],
        Step::Single {
            value: 0,
            class: Random
        }
    );
    assert!(plan.masks.is_empty());
    let plan = plan_kernel(&k, &inputs, &wgsl()).unwrap();
    assert_eq!(plan.masks, vec![0]);
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(groups(&plan)[0].reads[1], (Arg::Value(0), Read::Full));
}

#[test]
fn reads_follow_the_domain_of_the_value() {
    let out = [8, 10];
    let read = |op: &Op, i: usize, arg: &[usize]| {
        op.operand_access(i, arg, &out).map(|a| Read::of(a, &out))
    };
    assert_eq!(read(&Op::BiasAdd, 1, &[10]), Some(Read::Row));
    assert_eq!(
        read(&Op::CostGrad(crate::CostFn::Quadratic), 2, &[8]),
        Some(Read::Col)
    );
    assert_eq!(read(&Op::ScaleBy, 1, &[]), Some(Read::Scalar));
    assert_eq!(read(&Op::Add, 1, &[10]), None);
    assert_eq!(domain(&[]), (1, 1));
    assert_eq!(domain(&[7]), (1, 7));
    assert_eq!(domain(&[2, 3, 4]), (2, 12));
}

#[test]
fn a_kernel_yielding_a_value_twice_has_no_plan() {
    let (mut k, inputs) = layer();
    k.outputs = vec![4, 4];
    assert!(matches!(
        plan_kernel(&k, &inputs, &cpu()),
        Err(PlanError::Internal(_))
    ));
}
