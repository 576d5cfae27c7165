//! The conformance suite: every op of the op table
//! (`nnc_ir::ops::examples`, which a new op cannot be missing from) runs
//! on the interpreter in `f32`, on the JIT and on wgpu (lavapipe in CI),
//! forward and, for differentiable ops, its gradients, at several shapes
//! (odd sizes, a batch of one, broadcasts). Each result is compared with
//! the interpreter's in `f64` on the same `f32` inputs:
//! `|x - ref| <= TOLERANCE * (|ref| + max|ref| / 100) + 1e-6`, i.e.
//! relative to the value, sparing values that are tiny next to their
//! tensor (cancellation). An op a backend does not run is a failure.

use nnc_cpu::Program;
use nnc_gpu::{Gpu, LoadedProgram};
use nnc_interp::Interpreter;
use nnc_ir::ops::examples::{examples, operand_kind, OpExample, Values};
use nnc_ir::passes::autodiff::gradients;
use nnc_ir::rng::Rng;
use nnc_ir::{Graph, GraphKind, InputKind, NodeId, Op, OutputKind};

const TOLERANCE: f64 = 1e-4;
const SEED: u64 = 5;

/// An example as a graph: `y = op(operands)` as the prediction and, for
/// differentiable operands, the gradients of `sum(y * r)` for a random
/// `r` (operand `n`), plus every input's values (`f32`-representable).
struct Case {
    graph: Graph,
    inputs: Vec<(InputKind, Vec<f32>)>,
    /// The outputs compared: the prediction, then gradient `k`.
    outputs: Vec<OutputKind>,
}

fn draw(values: Values, shape: &[usize], rng: &mut Rng) -> Vec<f32> {
    let n: usize = shape.iter().product();
    match values {
        Values::Normal(s) => (0..n).map(|_| (s * rng.normal()) as f32).collect(),
        Values::Uniform(lo, hi) => (0..n)
            .map(|_| (lo + (hi - lo) * rng.uniform()) as f32)
            .collect(),
        Values::OneHot => {
            let width = shape.last().copied().unwrap_or(1).max(1);
            let mut v = vec![0.0; n];
            for row in 0..n / width {
                v[row * width + rng.below(width)] = 1.0;
            }
            v
        }
        Values::Index(rows) => (0..n).map(|_| rng.below(rows + 2) as f32 - 1.0).collect(),
    }
}

fn case(example: &OpExample) -> Case {
    let mut rng = Rng::new(SEED);
    let batch = example
        .operands
        .first()
        .and_then(|(s, _)| s.first().copied())
        .unwrap_or(1);
    // An inference graph keeps every output (a training step reuses the
    // gradients' memory once the update has read them).
    let mut graph = Graph::new(GraphKind::Inference, batch);
    let mut inputs = Vec::new();
    let mut ids = Vec::new();
    for (i, (shape, values)) in example.operands.iter().enumerate() {
        let kind = operand_kind(i);
        let op = Op::Input {
            kind,
            shape: shape.clone(),
        };
        ids.push(graph.add(op, Vec::new(), format!("x{i}")).unwrap());
        inputs.push((kind, draw(*values, shape, &mut rng)));
    }
    // A pooling's gradient reads the pooling's own output.
    if let Op::PoolGrad(g) = example.op {
        ids[1] = graph.add(Op::Pool(g), vec![ids[0]], "pooled").unwrap();
    }
    let y = graph.add(example.op.clone(), ids.clone(), "y").unwrap();
    graph.add_output("y", OutputKind::Prediction, y);
    let mut outputs = vec![OutputKind::Prediction];
    let wrt: Vec<NodeId> = ids
        .iter()
        .zip(&example.differentiate)
        .filter(|(_, d)| **d)
        .map(|(id, _)| *id)
        .collect();
    if !wrt.is_empty() {
        let shape = graph.shape(y).to_vec();
        let r_kind = operand_kind(example.operands.len());
        let r = graph
            .add(
                Op::Input {
                    kind: r_kind,
                    shape: shape.clone(),
                },
                Vec::new(),
                "r",
            )
            .unwrap();
        inputs.push((r_kind, draw(Values::Normal(1.0), &shape, &mut rng)));
        let product = graph.add(Op::Mul, vec![y, r], "y*r").unwrap();
        let axes = (0..shape.len()).collect();
        let objective = graph
            .add(Op::SumAxes { axes }, vec![product], "objective")
            .unwrap();
        let grads = gradients(&mut graph, objective, &wrt).unwrap();
        for (k, g) in grads.into_iter().enumerate() {
            graph.add_output(format!("grad{k}"), OutputKind::Gradient(k), g);
            outputs.push(OutputKind::Gradient(k));
        }
    }
    nnc_ir::verify(&graph).unwrap_or_else(|e| panic!("{}: {e:?}", example.label));
    Case {
        graph,
        inputs,
        outputs,
    }
}

/// The interpreter's results, in `T`.
fn interpret<T: nnc_interp::Real>(case: &Case) -> Vec<Vec<f64>> {
    let mut interp = Interpreter::<T>::new(case.graph.clone()).unwrap();
    for (kind, values) in &case.inputs {
        let values: Vec<T> = values.iter().map(|&v| T::of(v as f64)).collect();
        interp.set_input(*kind, &values).unwrap();
    }
    interp.run(SEED);
    case.outputs
        .iter()
        .map(|&kind| {
            interp
                .output_of(kind)
                .unwrap()
                .iter()
                .map(|v| v.as_f64())
                .collect()
        })
        .collect()
}

fn jit(case: &Case, fused: &Graph) -> Result<Vec<Vec<f64>>, String> {
    let mut program: Program = nnc_cpu::lower(fused).map_err(|e| e.to_string())?;
    for (kind, values) in &case.inputs {
        if let Some(input) = program.input_mut(*kind) {
            input.copy_from_slice(values);
        }
    }
    program.run(SEED).map_err(|e| e.to_string())?;
    case.outputs
        .iter()
        .map(|&kind| {
            let node = fused.output_of(kind).ok_or("no such output")?.node;
            let values = program.value(node).ok_or("the output has no value")?;
            Ok(values.iter().map(|&v| v as f64).collect())
        })
        .collect()
}

fn gpu(gpu: &Gpu, case: &Case, fused: &Graph) -> Result<Vec<Vec<f64>>, String> {
    let shaders = nnc_wgsl::emit(fused, &gpu.target()).map_err(|e| e.to_string())?;
    let mut loaded = LoadedProgram::load(gpu, shaders).map_err(|e| e.to_string())?;
    for (kind, values) in &case.inputs {
        if loaded.program().input_buffer(*kind).is_some() {
            loaded
                .write(gpu, *kind, values)
                .map_err(|e| e.to_string())?;
        }
    }
    loaded.run(gpu, SEED).map_err(|e| e.to_string())?;
    case.outputs
        .iter()
        .map(|&kind| {
            let values = loaded
                .output(gpu, kind)
                .map_err(|e| e.to_string())?
                .ok_or("no such output")?;
            Ok(values.iter().map(|&v| v as f64).collect())
        })
        .collect()
}

/// The first value of `got` outside the tolerance around `want`.
fn mismatch(got: &[f64], want: &[f64]) -> Option<String> {
    if got.len() != want.len() {
        return Some(format!("{} values, expected {}", got.len(), want.len()));
    }
    let largest = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    got.iter().zip(want).enumerate().find_map(|(i, (&g, &w))| {
        let bound = TOLERANCE * (w.abs() + largest / 100.0) + 1e-6;
        // A NaN on either side is a mismatch too.
        let within = (g - w).abs() <= bound;
        (!within).then(|| format!("value {i}: {g} against {w}"))
    })
}

fn gpu_required() -> bool {
    std::env::var("NNC_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// A device, or `None` when none can be opened (a failure when
/// `NNC_REQUIRE_GPU=1`).
fn device() -> Option<Gpu> {
    match Gpu::acquire() {
        Ok(gpu) => Some(gpu),
        Err(e) if gpu_required() => panic!("NNC_REQUIRE_GPU=1 but no adapter: {e}"),
        Err(e) => {
            eprintln!("conformance: wgpu skipped ({e})");
            None
        }
    }
}

/// Runs `case` on every backend and compares with the interpreter in
/// `f64`; adds each disagreement to `failures` and returns how many
/// values were compared.
fn run_everywhere(
    label: &str,
    case: &Case,
    device: Option<&Gpu>,
    failures: &mut Vec<String>,
) -> usize {
    let reference = interpret::<f64>(case);
    let fused = nnc_ir::fuse_verified(&case.graph).unwrap_or_else(|e| panic!("{label}: fuse: {e}"));
    let mut backends = vec![("interp f32", Ok(interpret::<f32>(case)))];
    backends.push(("jit", jit(case, &fused)));
    if let Some(gpu_device) = device {
        backends.push(("wgpu", gpu(gpu_device, case, &fused)));
    }
    let mut compared = 0;
    for (backend, result) in backends {
        match result {
            Err(e) => failures.push(format!("{label} on {backend}: {e}")),
            Ok(outputs) => {
                for ((kind, got), want) in case.outputs.iter().zip(&outputs).zip(&reference) {
                    compared += got.len();
                    if let Some(m) = mismatch(got, want) {
                        failures.push(format!("{label} on {backend}, {kind:?}: {m}"));
                    }
                }
            }
        }
    }
    compared
}

#[test]
fn every_op_agrees_with_the_interpreter_on_every_backend() {
    let device = device();
    let mut failures = Vec::new();
    let mut compared = 0usize;
    let all = examples();
    for example in &all {
        let case = case(example);
        compared += run_everywhere(&example.label, &case, device.as_ref(), &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples disagree:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
    assert!(compared > 10_000, "only {compared} values compared");
}

/// Layer normalisation built from primitives (`nnc_ir::composite`), fused
/// as the backends fuse it, with its gradients for the input, the gain and
/// the shift, at a batch of one, odd sizes and an image-like rank 3.
#[test]
fn layer_norm_from_primitives_agrees_on_every_backend() {
    let device = device();
    let mut failures = Vec::new();
    for shape in [vec![1, 5], vec![4, 6], vec![3, 37], vec![2, 3, 8]] {
        let n = *shape.last().unwrap();
        let mut rng = Rng::new(SEED);
        let batch = shape[0];
        let mut graph = Graph::new(GraphKind::Inference, batch);
        let mut inputs = Vec::new();
        let mut ids = Vec::new();
        for (k, (s, values)) in [
            (shape.clone(), Values::Normal(2.0)),
            (vec![n], Values::Uniform(0.5, 1.5)),
            (vec![n], Values::Normal(0.5)),
            (shape.clone(), Values::Normal(1.0)),
        ]
        .into_iter()
        .enumerate()
        {
            let op = Op::Input {
                kind: operand_kind(k),
                shape: s.clone(),
            };
            ids.push(graph.add(op, Vec::new(), format!("x{k}")).unwrap());
            inputs.push((operand_kind(k), draw(values, &s, &mut rng)));
        }
        let y =
            nnc_ir::composite::layer_norm(&mut graph, ids[0], ids[1], ids[2], 1e-5, "ln").unwrap();
        graph.add_output("y", OutputKind::Prediction, y);
        let product = graph.add(Op::Mul, vec![y, ids[3]], "y*r").unwrap();
        let axes = (0..shape.len()).collect();
        let objective = graph
            .add(Op::SumAxes { axes }, vec![product], "objective")
            .unwrap();
        let grads = gradients(&mut graph, objective, &ids[..3]).unwrap();
        let mut outputs = vec![OutputKind::Prediction];
        for (k, g) in grads.into_iter().enumerate() {
            graph.add_output(format!("grad{k}"), OutputKind::Gradient(k), g);
            outputs.push(OutputKind::Gradient(k));
        }
        let case = Case {
            graph,
            inputs,
            outputs,
        };
        let label = format!("layer norm {shape:?}");
        let compared = run_everywhere(&label, &case, device.as_ref(), &mut failures);
        assert!(compared > 0);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Softmax and log-softmax along an axis, built from primitives
/// (`nnc_ir::composite`: a permute and the per-example softmax; max, sums
/// and broadcasts over the axis), with their gradients, on every backend.
#[test]
fn softmax_along_an_axis_agrees_on_every_backend() {
    let device = device();
    let mut failures = Vec::new();
    type Build = fn(&mut Graph, NodeId, usize, &str) -> Result<NodeId, nnc_ir::CompileError>;
    let builds: [(Build, &str); 2] = [
        (nnc_ir::composite::softmax, "softmax"),
        (nnc_ir::composite::log_softmax, "log_softmax"),
    ];
    for (shape, axis) in [
        (vec![4, 6], 1),
        (vec![2, 3, 5], 1),
        (vec![2, 3, 5], 2),
        (vec![1, 9], 1),
    ] {
        for (build, what) in builds {
            let mut rng = Rng::new(SEED);
            let mut graph = Graph::new(GraphKind::Inference, shape[0]);
            let mut inputs = Vec::new();
            let mut ids = Vec::new();
            for k in 0..2 {
                let op = Op::Input {
                    kind: operand_kind(k),
                    shape: shape.clone(),
                };
                ids.push(graph.add(op, Vec::new(), format!("x{k}")).unwrap());
                inputs.push((operand_kind(k), draw(Values::Normal(2.0), &shape, &mut rng)));
            }
            let y = build(&mut graph, ids[0], axis, "y").unwrap();
            graph.add_output("y", OutputKind::Prediction, y);
            let product = graph.add(Op::Mul, vec![y, ids[1]], "y*r").unwrap();
            let axes = (0..shape.len()).collect();
            let objective = graph
                .add(Op::SumAxes { axes }, vec![product], "objective")
                .unwrap();
            let grads = gradients(&mut graph, objective, &ids[..1]).unwrap();
            graph.add_output("grad0", OutputKind::Gradient(0), grads[0]);
            let case = Case {
                graph,
                inputs,
                outputs: vec![OutputKind::Prediction, OutputKind::Gradient(0)],
            };
            let label = format!("{what} {shape:?} axis {axis}");
            run_everywhere(&label, &case, device.as_ref(), &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Inputs `x{k}` of the given shapes and values, bound as the suite binds
/// an example's operands.
fn inputs_of(
    graph: &mut Graph,
    operands: &[(Vec<usize>, Values)],
    rng: &mut Rng,
) -> (Vec<NodeId>, Vec<(InputKind, Vec<f32>)>) {
    let mut ids = Vec::new();
    let mut inputs = Vec::new();
    for (k, (shape, values)) in operands.iter().enumerate() {
        let op = Op::Input {
            kind: operand_kind(k),
            shape: shape.clone(),
        };
        ids.push(graph.add(op, Vec::new(), format!("x{k}")).unwrap());
        inputs.push((operand_kind(k), draw(*values, shape, rng)));
    }
    (ids, inputs)
}

/// `sum(y * r)` for an input `r` (the last operand of `ids`) and the
/// gradients of the operands `wrt`, as outputs.
fn with_gradients(
    mut graph: Graph,
    y: NodeId,
    r: NodeId,
    wrt: &[NodeId],
) -> (Graph, Vec<OutputKind>) {
    graph.add_output("y", OutputKind::Prediction, y);
    let product = graph.add(Op::Mul, vec![y, r], "y*r").unwrap();
    let axes = (0..graph.shape(y).len()).collect();
    let objective = graph
        .add(Op::SumAxes { axes }, vec![product], "objective")
        .unwrap();
    let grads = gradients(&mut graph, objective, wrt).unwrap();
    let mut outputs = vec![OutputKind::Prediction];
    for (k, g) in grads.into_iter().enumerate() {
        graph.add_output(format!("grad{k}"), OutputKind::Gradient(k), g);
        outputs.push(OutputKind::Gradient(k));
    }
    (graph, outputs)
}

/// Split (`nnc_ir::composite::split`, slices) and concatenation around
/// pointwise ops, fused as the backends fuse them, with the gradient.
#[test]
fn split_and_concat_agree_on_every_backend() {
    let device = device();
    let mut failures = Vec::new();
    for (shape, axis, sizes) in [
        (vec![2, 7, 3], 1, vec![2, 4, 1]),
        (vec![1, 9], 1, vec![3, 3, 3]),
        (vec![5, 4], 0, vec![1, 4]),
    ] {
        let mut rng = Rng::new(SEED);
        let mut graph = Graph::new(GraphKind::Inference, shape[0]);
        let operands = [
            (shape.clone(), Values::Normal(1.0)),
            (shape.clone(), Values::Normal(1.0)),
        ];
        let (ids, inputs) = inputs_of(&mut graph, &operands, &mut rng);
        let pieces = nnc_ir::composite::split(&mut graph, ids[0], axis, &sizes, "piece").unwrap();
        let squared = graph
            .add(Op::Mul, vec![pieces[0], pieces[0]], "sq")
            .unwrap();
        let bent = graph.add(Op::Tanh, vec![pieces[1]], "tanh").unwrap();
        let mut parts = vec![bent, squared];
        parts.extend(&pieces[2..]);
        let concat = Op::Concat {
            axis,
            parts: parts.len(),
        };
        let y = graph.add(concat, parts, "y").unwrap();
        let (graph, outputs) = with_gradients(graph, y, ids[1], &ids[..1]);
        let case = Case {
            graph,
            inputs,
            outputs,
        };
        let label = format!("split {shape:?} along {axis} into {sizes:?}");
        run_everywhere(&label, &case, device.as_ref(), &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An embedding lookup feeding attention-like batched products (scores
/// `E E^T`, a softmax along the last axis, `P E`, a shared projection
/// `W`), with gradients for the table and `W`: the new primitives
/// chained, fused among pointwise ops.
#[test]
fn embedding_and_batched_products_agree_on_every_backend() {
    let device = device();
    let mut failures = Vec::new();
    for (vocab, tokens, width) in [(11, vec![2, 5], 6), (4, vec![1, 3], 5)] {
        let mut rng = Rng::new(SEED);
        let batch = tokens[0];
        let mut graph = Graph::new(GraphKind::Inference, batch);
        let mut out_shape = tokens.clone();
        out_shape.push(3);
        let operands = [
            (vec![vocab, width], Values::Normal(1.0)),
            (tokens.clone(), Values::Index(vocab)),
            (vec![width, 3], Values::Normal(1.0)),
            (out_shape, Values::Normal(1.0)),
        ];
        let (ids, inputs) = inputs_of(&mut graph, &operands, &mut rng);
        let e = graph.add(Op::Gather, vec![ids[0], ids[1]], "e").unwrap();
        let bmm = |ta, tb| Op::BatchMatMul { ta, tb };
        let scores = graph.add(bmm(false, true), vec![e, e], "scores").unwrap();
        let scaled = graph.add(Op::Scale(0.5), vec![scores], "scaled").unwrap();
        let p = nnc_ir::composite::softmax(&mut graph, scaled, 2, "p").unwrap();
        let mixed = graph.add(bmm(false, false), vec![p, e], "mixed").unwrap();
        let y = graph
            .add(bmm(false, false), vec![mixed, ids[2]], "y")
            .unwrap();
        let (graph, outputs) = with_gradients(graph, y, ids[3], &[ids[0], ids[2]]);
        let case = Case {
            graph,
            inputs,
            outputs,
        };
        let label = format!("embedding {vocab} x {width} at {tokens:?}");
        run_everywhere(&label, &case, device.as_ref(), &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Bilinear upsampling of one `h x w` plane by `[fh, fw]`, written
/// directly from its definition (PyTorch's `align_corners=False`): source
/// position `(i + 0.5) / f - 0.5`, clamped to the plane.
fn bilinear_reference(plane: &[f64], h: usize, w: usize, f: [usize; 2]) -> Vec<f64> {
    let taps = |i: usize, f: usize, n: usize| {
        let src = ((i as f64 + 0.5) / f as f64 - 0.5).max(0.0);
        let i0 = (src.floor() as usize).min(n - 1);
        let i1 = (i0 + 1).min(n - 1);
        (i0, i1, src - i0 as f64)
    };
    let mut out = Vec::with_capacity(h * f[0] * w * f[1]);
    for i in 0..h * f[0] {
        let (r0, r1, a) = taps(i, f[0], h);
        for j in 0..w * f[1] {
            let (c0, c1, b) = taps(j, f[1], w);
            let at = |r: usize, c: usize| plane[r * w + c];
            let top = (1.0 - b) * at(r0, c0) + b * at(r0, c1);
            let bottom = (1.0 - b) * at(r1, c0) + b * at(r1, c1);
            out.push((1.0 - a) * top + a * bottom);
        }
    }
    out
}

/// `upsample` built from primitives (`nnc_ir::composite::upsample`):
/// nearest repeats each pixel, bilinear matches its definition (checked
/// against a direct implementation on the interpreter), and every backend
/// agrees with the interpreter on the values and the gradient.
#[test]
fn upsampling_from_primitives_matches_its_definition_on_every_backend() {
    use nnc_ir::composite::{upsample, Upsampling};
    let device = device();
    let mut failures = Vec::new();
    for (mode, factor) in [
        (Upsampling::Nearest, [2, 2]),
        (Upsampling::Nearest, [3, 1]),
        (Upsampling::Bilinear, [2, 2]),
        (Upsampling::Bilinear, [3, 2]),
        (Upsampling::Bilinear, [4, 4]),
    ] {
        let shape = vec![2, 3, 4, 5];
        let out_shape = vec![2, 3, 4 * factor[0], 5 * factor[1]];
        let mut rng = Rng::new(SEED);
        let mut graph = Graph::new(GraphKind::Inference, 2);
        let x_values = draw(Values::Normal(1.0), &shape, &mut rng);
        let r_values = draw(Values::Normal(1.0), &out_shape, &mut rng);
        let input = |graph: &mut Graph, k: usize, shape: &[usize]| {
            let op = Op::Input {
                kind: operand_kind(k),
                shape: shape.to_vec(),
            };
            graph.add(op, Vec::new(), format!("x{k}")).unwrap()
        };
        let x = input(&mut graph, 0, &shape);
        let r = input(&mut graph, 1, &out_shape);
        let y = upsample(&mut graph, x, factor, mode, "up").unwrap();
        graph.add_output("y", OutputKind::Prediction, y);
        let product = graph.add(Op::Mul, vec![y, r], "y*r").unwrap();
        let objective = graph
            .add(
                Op::SumAxes {
                    axes: vec![0, 1, 2, 3],
                },
                vec![product],
                "objective",
            )
            .unwrap();
        let grads = gradients(&mut graph, objective, &[x]).unwrap();
        graph.add_output("grad0", OutputKind::Gradient(0), grads[0]);
        let case = Case {
            graph,
            inputs: vec![
                (operand_kind(0), x_values.clone()),
                (operand_kind(1), r_values),
            ],
            outputs: vec![OutputKind::Prediction, OutputKind::Gradient(0)],
        };
        let label = format!("upsample {mode:?} {factor:?}");
        let values = &interpret::<f64>(&case)[0];
        let (h, w) = (shape[2], shape[3]);
        let plane = h * w;
        let big = plane * factor[0] * factor[1];
        for p in 0..shape[0] * shape[1] {
            let source: Vec<f64> = x_values[p * plane..(p + 1) * plane]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let want: Vec<f64> = match mode {
                Upsampling::Bilinear => bilinear_reference(&source, h, w, factor),
                Upsampling::Nearest => (0..h * factor[0])
                    .flat_map(|i| (0..w * factor[1]).map(move |j| (i, j)))
                    .map(|(i, j)| source[(i / factor[0]) * w + j / factor[1]])
                    .collect(),
            };
            if let Some(m) = mismatch(&values[p * big..(p + 1) * big], &want) {
                failures.push(format!("{label}, plane {p}, against its definition: {m}"));
            }
        }
        let compared = run_everywhere(&label, &case, device.as_ref(), &mut failures);
        assert!(compared > 0);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
