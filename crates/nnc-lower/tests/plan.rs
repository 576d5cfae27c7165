//! The memory planner: every training phase of the repository's models
//! (fused, unfused, and inference) gets a plan that verifies, fits its
//! graph, and survives a simulated run (each step writes a tag into its
//! buffers, and every value still holds its tag when read); reuse makes
//! the deeper nets' arenas smaller than the sum of their buffers; and the
//! allocator never overlaps live buffers on random interval sets, matching
//! a brute-force optimum where that is known to be reachable.

use nnc_check::program::{Model, Optimizer, Program};
use nnc_ir::plan::{
    align_up, first_fit, lifetimes, place, BufferKind, Lifetime, Outputs, Temporaries, ALIGN,
};
use nnc_ir::{
    plan_memory, plan_memory_with, Graph, GraphKind, InputKind, MemoryPlan, NodeId, Op, OutputKind,
    PlanOptions,
};
use nnc_lower::backend::TrainSetup;
use nnc_lower::{
    compile_inference, compile_inference_fused, compile_training, compile_training_fused,
};
use proptest::prelude::*;
use std::path::PathBuf;

fn program(source: &str) -> Program {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "{syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    checked.program
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn repository_file(path: &str) -> Program {
    program(&std::fs::read_to_string(root().join(path)).unwrap())
}

fn setup<'a>(model: &'a Model, optimizer: &'a Optimizer, batch: usize) -> TrainSetup<'a> {
    TrainSetup {
        model,
        optimizer,
        batch_size: batch,
        train_size: 50_000,
        clip: Default::default(),
    }
}

/// Runs the step sequence of `graph` on an arena of tags, one per block of
/// [`ALIGN`] floats: each step writes its scratch and its values, then
/// checks that its operands, its values and its scratch still hold their
/// tags; at the end every output the plan keeps must still hold its tag.
/// This follows the graph's own order and readers, not the planner's
/// lifetimes.
fn simulate(graph: &Graph, plan: &MemoryPlan) {
    const EMPTY: usize = usize::MAX;
    let mut blocks = vec![EMPTY; plan.arena_len / ALIGN];
    // Tags: 2 * node for a value, 2 * node + 1 for a kernel's scratch.
    let span = |node: NodeId, kind: BufferKind| {
        let buffer = plan
            .buffers
            .iter()
            .find(|b| b.node == node && b.kind == kind)
            .unwrap_or_else(|| panic!("{node} has no {kind:?} buffer"));
        buffer.offset / ALIGN..buffer.end() / ALIGN
    };
    let tag = |node: NodeId, kind: BufferKind| {
        2 * node.index() + usize::from(kind == BufferKind::Scratch)
    };
    let write = |blocks: &mut Vec<usize>, node: NodeId, kind: BufferKind| {
        for block in span(node, kind) {
            blocks[block] = tag(node, kind);
        }
    };
    let check = |blocks: &[usize], node: NodeId, kind: BufferKind, when: &str| {
        for block in span(node, kind) {
            assert_eq!(
                blocks[block],
                tag(node, kind),
                "{when}: {node} ({}) {kind:?} was overwritten\n{plan}",
                graph.node(node).name
            );
        }
    };
    let nodes = graph.nodes();
    for id in graph.ids() {
        let node = graph.node(id);
        if matches!(node.op, Op::Input { .. } | Op::KernelOutput { .. }) {
            continue;
        }
        // The values this step writes: its own and its kernel outputs'.
        let mut values = vec![id];
        values.extend(graph.ids().filter(|&k| {
            matches!(nodes[k.index()].op, Op::KernelOutput { .. })
                && nodes[k.index()].inputs.first() == Some(&id)
        }));
        let scratch = plan.scratch_of(id).is_some();
        if scratch {
            write(&mut blocks, id, BufferKind::Scratch);
        }
        for &value in &values {
            write(&mut blocks, value, BufferKind::Value);
        }
        let when = format!("step {id} ({})", node.name);
        for &input in &node.inputs {
            if !matches!(graph.node(input).op, Op::Input { .. }) {
                check(&blocks, input, BufferKind::Value, &when);
            }
        }
        for &value in &values {
            check(&blocks, value, BufferKind::Value, &when);
        }
        if scratch {
            check(&blocks, id, BufferKind::Scratch, &when);
        }
    }
    for output in &graph.outputs {
        let kept = plan.options.outputs.keeps(output.kind);
        if kept && !matches!(graph.node(output.node).op, Op::Input { .. }) {
            check(&blocks, output.node, BufferKind::Value, "after the step");
        }
    }
}

/// The lean options: gradients not read after the step, pointwise
/// temporaries in registers.
const LEAN: PlanOptions = PlanOptions {
    outputs: Outputs::StepResults,
    temporaries: Temporaries::NonPointwise,
};

/// Everything a plan of `graph` must satisfy, under the default and the
/// lean options (which never need a larger arena); the default plan.
fn assert_good_plan(graph: &Graph, what: &str) -> MemoryPlan {
    let lean = check_plan(graph, LEAN, what);
    let plan = check_plan(graph, PlanOptions::default(), what);
    assert!(lean.naive_len() <= plan.naive_len(), "{what}");
    assert!(lean.peak_live() <= plan.peak_live(), "{what}");
    plan
}

fn check_plan(graph: &Graph, options: PlanOptions, what: &str) -> MemoryPlan {
    let plan = plan_memory_with(graph, options);
    plan.verify_for(graph)
        .unwrap_or_else(|e| panic!("{what}: {e}\n{plan}"));
    assert!(plan.arena_len <= plan.naive_len(), "{what}\n{plan}");
    assert!(plan.arena_len >= plan.peak_live(), "{what}\n{plan}");
    assert_eq!(
        plan.externals.len(),
        graph.inputs().len(),
        "{what}: inputs are external"
    );
    simulate(graph, &plan);
    plan
}

#[test]
fn every_repository_phase_plans_and_verifies() {
    let mut files = Vec::new();
    for dir in ["models", "tests/fixtures/ok"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "nnet") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut plans = 0;
    for path in files {
        let program = program(&std::fs::read_to_string(&path).unwrap());
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for model in &program.models {
            let inference = compile_inference_fused(model, 2, None).unwrap();
            assert_good_plan(&inference, &format!("{name} {} inference", model.name));
            plans += 1;
        }
        for train in &program.trains {
            for (model, optimizers) in train.trained_graphs(&program) {
                if !model.has_cost() {
                    continue;
                }
                for (phase, optimizer) in train.phases.iter().zip(optimizers) {
                    let batch = phase.batch_size;
                    let what = format!("{name} {} batch {batch}", model.name);
                    let setup = setup(model, optimizer, batch);
                    let fused = compile_training_fused(&setup, batch, None).unwrap();
                    let fused_plan = assert_good_plan(&fused, &format!("{what} fused"));
                    let plain = compile_training(&setup, batch, None).unwrap();
                    assert_good_plan(&plain, &format!("{what} unfused"));
                    let inference = compile_inference_fused(model, batch, None).unwrap();
                    assert_good_plan(&inference, &format!("{what} inference"));
                    // Every kernel output has a buffer of its own, apart from
                    // its kernel's other outputs (they are written together).
                    for id in fused.ids() {
                        if let Op::KernelOutput { .. } = fused.node(id).op {
                            let kernel = fused.node(id).inputs[0];
                            let (a, b) = (
                                fused_plan.buffer(id).unwrap(),
                                fused_plan.buffer(kernel).unwrap(),
                            );
                            assert_eq!(a.live.first, b.live.first, "{what}");
                            assert!(a.end() <= b.offset || b.end() <= a.offset, "{what}");
                        }
                    }
                    plans += 3;
                }
            }
        }
    }
    assert!(plans > 80, "{plans} plans");
}

/// The plan of a repository model's first phase, fused, at `batch`.
fn phase_plan(path: &str, batch: usize) -> (Graph, MemoryPlan) {
    phase_plan_with(path, batch, PlanOptions::default())
}

fn phase_plan_with(path: &str, batch: usize, options: PlanOptions) -> (Graph, MemoryPlan) {
    let program = repository_file(path);
    let model = &program.models[0];
    let optimizer = &program.trains[0].phases[0].optimizer;
    let graph = compile_training_fused(&setup(model, optimizer, batch), batch, None).unwrap();
    let plan = check_plan(&graph, options, path);
    (graph, plan)
}

#[test]
fn deeper_nets_reuse_memory() {
    // Figures (floats): printed for the report, asserted loosely so that
    // a change of fusion does not break the test, strictly in the saving.
    let mut report = String::new();
    for (path, batch, options) in [
        ("models/mnist_784_30_10.nnet", 10, PlanOptions::default()),
        ("models/mnist_784_30_10.nnet", 10, LEAN),
        ("models/mlp_1024_batch64.nnet", 64, PlanOptions::default()),
        ("models/mlp_1024_batch64.nnet", 64, LEAN),
        ("models/mnist_deep_4.nnet", 10, PlanOptions::default()),
        ("models/mnist_deep_4.nnet", 10, LEAN),
    ] {
        let (_, plan) = phase_plan_with(path, batch, options);
        report.push_str(&format!(
            "{path} batch {batch} {:?}/{:?}: arena {} floats, buffers {} floats, saved {}, peak live {}, {} steps\n",
            options.outputs,
            options.temporaries,
            plan.arena_len,
            plan.naive_len(),
            plan.saved(),
            plan.peak_live(),
            plan.steps
        ));
        assert!(plan.arena_len < plan.naive_len(), "{path}\n{plan}");
    }
    eprint!("{report}");
    // The figures of the two workloads, in floats. On these nets
    // the greedy arena is the most that is ever live at once, so no
    // placement of these lifetimes does better.
    let figures = [
        (
            "models/mnist_784_30_10.nnet",
            10,
            PlanOptions::default(),
            94_480,
            97_456,
        ),
        ("models/mnist_784_30_10.nnet", 10, LEAN, 47_408, 49_344),
        (
            "models/mlp_1024_batch64.nnet",
            64,
            PlanOptions::default(),
            4_764_704,
            6_248_560,
        ),
        (
            "models/mlp_1024_batch64.nnet",
            64,
            LEAN,
            2_912_288,
            4_384_768,
        ),
    ];
    for (path, batch, options, arena, naive) in figures {
        let (_, plan) = phase_plan_with(path, batch, options);
        assert_eq!(
            (plan.arena_len, plan.naive_len()),
            (arena, naive),
            "{path} {options:?}\n{plan}"
        );
        assert_eq!(plan.arena_len, plan.peak_live(), "{path} {options:?}");
    }
    // Lower bounds by hand. The book's net: its new parameters live to the
    // end and cannot share (30 * 784 + 30 + 10 * 30 + 10 floats, aligned).
    let (_, book) = phase_plan_with("models/mnist_784_30_10.nnet", 10, LEAN);
    let new_params = align_up(30 * 784) + align_up(30) + align_up(10 * 30) + align_up(10);
    assert!(book.arena_len >= new_params);
    // 784-1024-1024-10: the new weights alone are 784 * 1024 + 1024 * 1024
    // + 1024 * 10 floats; reuse saves at least a weight gradient's worth.
    let (_, mlp) = phase_plan_with("models/mlp_1024_batch64.nnet", 64, LEAN);
    assert!(mlp.arena_len >= 784 * 1024 + 1024 * 1024 + 1024 * 10);
    assert!(mlp.saved() >= 1024 * 1024, "{mlp}");
}

/// The text form, for `nnc emit plan`.
#[test]
fn text_form_of_a_plan() {
    let (_, plan) = phase_plan_with("models/xor_2_2_1.nnet", 4, LEAN);
    insta::assert_snapshot!("xor_plan_lean", plan.to_string());
}

#[test]
fn printer_lists_buffers_and_totals() {
    let (graph, plan) = phase_plan("models/xor_2_2_1.nnet", 4);
    let text = plan.to_string();
    assert!(text.starts_with("memory plan training (batch 4)"), "{text}");
    let buffer_lines = text
        .lines()
        .filter(|l| l.contains("  // ") && !l.trim_start().starts_with("external"))
        .count();
    assert_eq!(buffer_lines, plan.buffers.len(), "{text}");
    let externals = text
        .lines()
        .filter(|l| l.trim_start().starts_with("external"))
        .count();
    assert_eq!(externals, graph.inputs().len(), "{text}");
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "arena {} floats ({} bytes); buffers {} floats; saved {}",
            plan.arena_len,
            4 * plan.arena_len,
            plan.naive_len(),
            plan.saved()
        )),
        "{text}"
    );
    // Graph outputs live to the end.
    for output in &graph.outputs {
        let buffer = plan.buffer(output.node).unwrap();
        assert_eq!(buffer.live.last, plan.steps);
        let line = text
            .lines()
            .find(|l| l.contains(&format!("{}  //", output.node)))
            .unwrap();
        assert!(line.contains("..=end"), "{line}");
    }
}

/// `x -> a = sigmoid(x) -> b = relu(a) -> c = b + x` (output): `a` dies
/// when `b` is computed, so `c` reuses its memory.
#[test]
fn lifetimes_of_a_small_unfused_graph() {
    let mut graph = Graph::new(GraphKind::Inference, 2);
    let x = graph
        .add(
            Op::Input {
                kind: InputKind::Data(0),
                shape: vec![2, 3],
            },
            vec![],
            "x",
        )
        .unwrap();
    let a = graph.add(Op::Sigmoid, vec![x], "a").unwrap();
    let b = graph.add(Op::Relu, vec![a], "b").unwrap();
    let c = graph.add(Op::Add, vec![b, x], "c").unwrap();
    graph.add_output("prediction(c)", OutputKind::Prediction, c);
    let (live, steps) = lifetimes(&graph, Outputs::All);
    assert_eq!(steps, 3);
    let span = |first, last| Some(Lifetime { first, last });
    assert_eq!(live, vec![None, span(0, 1), span(1, 2), span(2, 3)]);
    let plan = assert_good_plan(&graph, "small");
    assert_eq!(plan.naive_len(), 3 * ALIGN);
    assert_eq!(plan.arena_len, 2 * ALIGN, "{plan}");
    assert_eq!(plan.offset(a), plan.offset(c));
    assert_eq!(plan.externals[0].node, x);
    assert_eq!(plan.externals[0].len, 6);
}

#[test]
fn fused_kernels_get_scratch_for_their_temporaries() {
    let program = repository_file("models/mnist_784_30_10.nnet");
    let model = &program.models[0];
    let optimizer = &program.trains[0].phases[0].optimizer;
    let graph = compile_training_fused(&setup(model, optimizer, 10), 10, None).unwrap();
    let plan = plan_memory(&graph);
    let mut kernels_with_temporaries = 0;
    for id in graph.ids() {
        let Op::Fused(kernel) = &graph.node(id).op else {
            continue;
        };
        let temporaries: Vec<usize> = (0..kernel.body.len())
            .filter(|j| !kernel.outputs.contains(j))
            .collect();
        match plan.scratch_of(id) {
            None => assert!(temporaries.is_empty()),
            Some(scratch) => {
                kernels_with_temporaries += 1;
                let values: Vec<usize> = scratch.slots.iter().map(|s| s.0).collect();
                assert_eq!(values, temporaries);
                for &(value, _, len) in &scratch.slots {
                    let shape = &kernel.body[value].shape;
                    assert_eq!(len, shape.iter().product::<usize>());
                }
                // Scratch lives during its kernel's step only.
                let region = plan
                    .buffers
                    .iter()
                    .find(|b| b.node == id && b.kind == BufferKind::Scratch)
                    .unwrap();
                let value = plan.buffer(id).unwrap();
                assert_eq!(region.live.first, value.live.first);
                assert_eq!(region.live.last, value.live.first);
            }
        }
    }
    // The layer kernels keep `wx` and `z` inside.
    assert!(kernels_with_temporaries >= 2, "{plan}");
}

// --- the allocator alone -------------------------------------------------

/// Checks a placement independently of `MemoryPlan::verify`: at every
/// step, the live requests' ranges, sorted, do not overlap.
fn assert_valid(requests: &[(Lifetime, usize)], offsets: &[usize], arena_len: usize) {
    let horizon = requests.iter().map(|r| r.0.last).max().unwrap_or(0);
    for step in 0..=horizon {
        let mut ranges: Vec<(usize, usize)> = requests
            .iter()
            .zip(offsets)
            .filter(|((live, len), _)| live.first <= step && step <= live.last && *len > 0)
            .map(|((_, len), &offset)| (offset, offset + align_up(*len)))
            .collect();
        ranges.sort_unstable();
        for pair in ranges.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "step {step}: {ranges:?}");
        }
    }
    for (&(_, len), &offset) in requests.iter().zip(offsets) {
        assert_eq!(offset % ALIGN, 0);
        assert!(offset + align_up(len) <= arena_len);
    }
}

/// No placement needs less than the most aligned elements live at once.
fn peak(requests: &[(Lifetime, usize)]) -> usize {
    let horizon = requests.iter().map(|r| r.0.last).max().unwrap_or(0);
    (0..=horizon)
        .map(|step| {
            requests
                .iter()
                .filter(|(live, _)| live.first <= step && step <= live.last)
                .map(|&(_, len)| align_up(len))
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0)
}

/// The smallest arena: first fit over every order. (Any placement is
/// matched or beaten by first fit in the order of its offsets, so this
/// is the optimum.)
fn brute_force(requests: &[(Lifetime, usize)]) -> usize {
    fn permute(order: &mut Vec<usize>, k: usize, requests: &[(Lifetime, usize)], best: &mut usize) {
        if k == order.len() {
            *best = (*best).min(first_fit(requests, order).arena_len);
            return;
        }
        for i in k..order.len() {
            order.swap(k, i);
            permute(order, k + 1, requests, best);
            order.swap(k, i);
        }
    }
    let mut order: Vec<usize> = (0..requests.len()).collect();
    let mut best = usize::MAX;
    permute(&mut order, 0, requests, &mut best);
    best
}

fn request() -> impl Strategy<Value = (Lifetime, usize)> {
    (0usize..12, 0usize..6, 0usize..100).prop_map(|(first, length, len)| {
        (
            Lifetime {
                first,
                last: first + length,
            },
            len,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn allocator_never_overlaps_live_buffers(requests in prop::collection::vec(request(), 0..40)) {
        let placement = place(&requests);
        assert_valid(&requests, &placement.offsets, placement.arena_len);
        let naive: usize = requests.iter().map(|r| align_up(r.1)).sum();
        prop_assert!(placement.arena_len <= naive);
        prop_assert!(placement.arena_len >= peak(&requests));
        let ends = requests
            .iter()
            .zip(&placement.offsets)
            .map(|(r, &o)| o + align_up(r.1))
            .max()
            .unwrap_or(0);
        prop_assert_eq!(placement.arena_len, ends);
    }

    #[test]
    fn allocator_is_never_better_than_brute_force(requests in prop::collection::vec(request(), 0..6)) {
        let best = brute_force(&requests);
        let greedy = place(&requests);
        assert_valid(&requests, &greedy.offsets, greedy.arena_len);
        prop_assert!(best >= peak(&requests));
        prop_assert!(greedy.arena_len >= best);
    }

    #[test]
    fn equal_sizes_are_placed_optimally(
        lives in prop::collection::vec((0usize..12, 0usize..6), 0..30),
        len in 1usize..40,
    ) {
        // Intervals of one size: first fit by start is interval colouring,
        // which needs exactly as many slots as are ever live at once.
        let requests: Vec<(Lifetime, usize)> = lives
            .iter()
            .map(|&(first, length)| (Lifetime { first, last: first + length }, len))
            .collect();
        let placement = place(&requests);
        assert_valid(&requests, &placement.offsets, placement.arena_len);
        prop_assert_eq!(placement.arena_len, peak(&requests));
    }
}

#[test]
fn greedy_matches_brute_force_on_a_chain() {
    // A forward/backward shape: big activations that die in reverse order.
    let requests: Vec<(Lifetime, usize)> = vec![
        (Lifetime { first: 0, last: 5 }, 320),
        (Lifetime { first: 1, last: 4 }, 160),
        (Lifetime { first: 2, last: 3 }, 80),
        (Lifetime { first: 3, last: 4 }, 80),
        (Lifetime { first: 4, last: 5 }, 160),
        (Lifetime { first: 5, last: 6 }, 320),
    ];
    let placement = place(&requests);
    assert_valid(&requests, &placement.offsets, placement.arena_len);
    assert_eq!(placement.arena_len, brute_force(&requests));
    assert_eq!(placement.arena_len, peak(&requests));
}

#[test]
fn unfused_and_inference_graphs_plan_too() {
    let program = repository_file("models/conv_20_40.nnet");
    let model = &program.models[0];
    let optimizer = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    let plain = compile_training(&setup(model, &optimizer, 3), 3, None).unwrap();
    let plan = assert_good_plan(&plain, "conv unfused");
    assert!(plan.scratch.is_empty(), "no kernels, no scratch");
    let inference = compile_inference(model, 3, None).unwrap();
    assert_good_plan(&inference, "conv inference");
}
