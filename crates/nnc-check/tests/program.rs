//! The data and train parts of the checked program, and costs.

mod common;

use common::program;
use nnc_check::program::{
    CostKind, LabelColumn, Labels, Metric, Op, Optimizer, Regularizer, SliceBound, Source, Split,
};
use nnc_ir::rng::Noise;

const MODEL: &str = "
model mlp {
  input image: [784]
  layers { dense(30, act: sigmoid) dense(10, act: sigmoid) }
  cost cross_entropy
  regularize l2(5.0)
  regularize l1(0.1)
}
";

#[test]
fn costs_and_regularizers() {
    let p = program(MODEL);
    let m = &p.models[0];
    let cost = m.cost.as_ref().unwrap();
    assert_eq!(cost.kind, CostKind::CrossEntropy);
    assert_eq!(cost.output, m.outputs[0].1);
    assert!(matches!(m.regularizers[0], Regularizer::L2 { lambda, .. } if lambda == 5.0));
    assert!(matches!(m.regularizers[1], Regularizer::L1 { lambda, .. } if lambda == 0.1));
}

/// Noise sources of both kinds; cost terms named by the `let` a cost
/// names, the others counted; the total's `cost_name`; and E0305 for a
/// name a measure or a term already has, or no name at all.
#[test]
fn noise_named_cost_terms_and_the_cost_name() {
    let model = |extra: &str| {
        format!(
            "model vae {{
               input image: [16]
               let mu = dense(image, 4)
               let z = mu + normal([4]) + 0.1 * uniform([4])
               output reconstruction = dense(z, 16, act: sigmoid)
               let kl = 0.5 * sum(square(mu))
               cost cross_entropy(reconstruction, target: image)
               cost kl
               cost 0.01 * sum(abs(z))
               {extra}
             }}"
        )
    };
    let p = program(&model("cost_name negative_elbo"));
    let m = &p.models[0];
    assert_eq!(m.cost_terms(), ["reconstruction", "kl", "penalty2"]);
    assert_eq!(m.cost_name.as_deref(), Some("negative_elbo"));
    let noise: Vec<_> = m
        .nodes
        .iter()
        .filter_map(|n| match n.op {
            Op::Noise(kind) => Some((kind, n.shape.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(noise, [(Noise::Normal, vec![4]), (Noise::Uniform, vec![4])]);
    for taken in [
        "kl",
        "reconstruction",
        "accuracy",
        "rmse",
        "top5_accuracy",
        "2",
    ] {
        let found = common::codes(&model(&format!("cost_name {taken}")));
        assert_eq!(found, ["E0305"], "cost_name {taken}");
    }
}

/// A dataflow block of two inputs and two outputs: `let (a, b) = ...`
/// binds the outputs in the block's order, each its own tensor; the block
/// used as one tensor, a wrong count of names, or a `let (...)` of no
/// block is E0120; two outputs of one name are E0103.
#[test]
fn a_block_of_several_outputs_is_unpacked_by_let() {
    const BLOCK: &str = "
block heads(units) {
  input x
  input y
  let h = dense(concat(x, y), 8, act: relu)
  output wide = dense(h, units)
  output narrow = dense(h, 2)
}
";
    let model =
        |body: &str| format!("{BLOCK}\nmodel m {{\n input a: [3]\n input b: [4]\n {body}\n}}");
    let p = program(&model(
        "let (w, n) = heads(a, b, 5)\n output y = concat(w, n)\n cost quadratic",
    ));
    let m = &p.models[0];
    let y = m.node(m.outputs[0].1);
    assert_eq!(y.shape, vec![7]);
    let shapes: Vec<Vec<usize>> = y.inputs.iter().map(|&i| m.node(i).shape.clone()).collect();
    assert_eq!(shapes, [vec![5], vec![2]]);
    for (body, code) in [
        ("let w = heads(a, b, 5)\n output y = w", "E0120"),
        (
            "let (w, n, z) = heads(a, b, 5)\n output y = concat(w, n, z)",
            "E0120",
        ),
        (
            "let (w, n) = dense(a, 5)\n output y = concat(w, n)",
            "E0120",
        ),
        ("output y = a |> heads(b, 5)", "E0120"),
    ] {
        let found = common::codes(&model(body));
        assert!(found.contains(&code), "{body}: {found:?}");
        // Nothing else is an error (an input left unused is a warning).
        assert!(
            found.iter().all(|c| *c == code || c.starts_with('W')),
            "{body}: {found:?}"
        );
    }
    let twice = "block two() {\n input x\n output o = dense(x, 2)\n output o = dense(x, 3)\n}\n\
                 model m {\n input a: [3]\n let (p, q) = two(a)\n output y = concat(p, q)\n}";
    assert!(common::codes(twice).contains(&"E0103"));
}

/// `weight(enc)` and `bias(enc)`: the parameters of an applied `layer`
/// instance of one layer, shared by every example, and what refuses them.
#[test]
fn weight_and_bias_of_a_layer_instance() {
    let model = |body: &str| {
        format!(
            "block two() {{\n input x\n output y = x |> dense(3) |> dense(2)\n}}\n\
             model m {{\n input x: [4]\n input t: [3]\n layer enc = dense(3, act: sigmoid)\n\
             {body}\n}}"
        )
    };
    let p = program(&model(
        "let h = enc(x)\n let n = sum(square(weight(enc)), axis: 1)\n\
         output y = h * n + bias(enc)\n cost quadratic(y, target: t)",
    ));
    let m = &p.models[0];
    let shared = m.shared_nodes();
    let params: Vec<(Vec<usize>, bool)> = m
        .nodes
        .iter()
        .zip(&shared)
        .filter(|(n, _)| matches!(n.op, Op::Param { .. }))
        .map(|(n, s)| (n.shape.clone(), *s))
        .collect();
    assert_eq!(params, [(vec![3, 4], true), (vec![3], true)]);
    let n = m.nodes.iter().position(|node| node.name == "n").unwrap();
    assert!(shared[n], "the norms are the same for every example");
    assert!(!shared[m.outputs[0].1 .0], "the output is per example");
    // A mean over the batch is shared too, of its operand's shape.
    let p = program(&model(
        "let h = enc(x)\n let rho = batch_mean(h)\n output y = h - rho\n cost quadratic(y, target: t)",
    ));
    let m = &p.models[0];
    let rho = m.nodes.iter().position(|node| node.name == "rho").unwrap();
    assert!(m.shared_nodes()[rho] && m.nodes[rho].shape == [3]);
    assert!(common::codes(&model("output y = batch_mean(3)")).contains(&"E0108"));
    for body in [
        "output y = weight(enc)",
        "layer pair = two()\n let h = pair(x)\n output y = weight(pair)",
        "output y = weight(dense(3))",
        "output y = weight(x)",
    ] {
        let found = common::codes(&model(body));
        assert!(found.contains(&"E0108"), "{body}: {found:?}");
    }
}

#[test]
fn a_cost_can_name_one_of_several_outputs() {
    let p = program(
        "model two {
           input x: [4]
           let h = x |> dense(8, act: relu)
           output kind = h |> dense(3, act: softmax)
           output size = h |> dense(1)
           cost log_likelihood(kind)
         }",
    );
    let m = &p.models[0];
    assert_eq!(m.cost.as_ref().unwrap().output, m.outputs[0].1);
    assert_eq!(m.outputs[0].0, "kind");
}

#[test]
fn data_sources_splits_scale_labels() {
    let p = program(
        "const FIRST = 2
         data digits {
           let all = idx(\"i.gz\", labels: \"l.gz\")
           train      all[FIRST..6]
           validation all[..FIRST]
           test       all[6..]
           scale      1 / 255
           labels     one_hot(10)
         }
         data table {
           train  csv(\"t.csv\", label: 4, header: false)
           test   csv(\"t.csv\", label: \"y\")
           labels value
         }
         data pictures {
           train folder(\"pics\", size: [3, 8, 8])
         }",
    );
    let d = p.data("digits").unwrap();
    let Some(Split {
        source: Source::Idx { images, labels, .. },
        start,
        end,
        ..
    }) = &d.train
    else {
        panic!("{:?}", d.train)
    };
    assert_eq!(
        (images.as_str(), labels.as_deref().unwrap_or("")),
        ("i.gz", "l.gz")
    );
    let at = SliceBound::Index;
    assert_eq!((*start, *end), (Some(at(2)), Some(at(6))));
    assert_eq!(
        d.validation.as_ref().map(|s| (s.start, s.end)),
        Some((None, Some(at(2))))
    );
    assert_eq!(
        d.test.as_ref().map(|s| (s.start, s.end)),
        Some((Some(at(6)), None))
    );
    assert!((d.scale - 1.0 / 255.0).abs() < 1e-12);
    assert!(matches!(d.labels, Labels::OneHot { classes: 10, .. }));

    let t = p.data("table").unwrap();
    let Some(Split {
        source: Source::Csv { label, header, .. },
        ..
    }) = &t.train
    else {
        panic!()
    };
    assert_eq!((label, *header), (&Some(LabelColumn::Index(4)), false));
    let Some(Split {
        source: Source::Csv { label, header, .. },
        ..
    }) = &t.test
    else {
        panic!()
    };
    assert_eq!(
        (label, *header),
        (&Some(LabelColumn::Name("y".into())), true)
    );
    assert_eq!(t.labels, Labels::Value);
    assert_eq!(t.scale, 1.0);

    let f = p.data("pictures").unwrap();
    let Some(Split {
        source: Source::Folder { size, .. },
        ..
    }) = &f.train
    else {
        panic!()
    };
    assert_eq!(size, &vec![3, 8, 8]);
    assert_eq!(f.labels, Labels::Index);
}

#[test]
fn train_phases_inherit_and_override() {
    let source = format!(
        "{MODEL}
         data d {{
           let all = idx(\"i\", labels: \"l\")
           train all[..6]
           validation all[6..]
           labels one_hot(10)
         }}
         train mlp on d {{
           optimizer     momentum(0.9)
           learning_rate 0.01
           batch_size    4
           epochs        60
           seed          7
           at epoch 2  {{ batch_size 2 }}
           at epoch 31 {{ learning_rate 0.1  optimizer adam }}
           decay on_plateau(metric: validation_accuracy, factor: 0.5, patience: 10, stop_below: 1 / 128)
           early_stop(metric: validation_cost, patience: 20)
           metrics [train_cost, validation_accuracy]
         }}"
    );
    let p = program(&source);
    let t = &p.trains[0];
    assert_eq!(
        (t.model.as_str(), t.data.as_str(), t.epochs, t.seed),
        ("mlp", "d", 60, 7)
    );
    let phases: Vec<(usize, f64, usize)> = t
        .phases
        .iter()
        .map(|p| (p.start_epoch, p.learning_rate, p.batch_size))
        .collect();
    assert_eq!(phases, [(1, 0.01, 4), (2, 0.01, 2), (31, 0.1, 2)]);
    assert_eq!(t.phases[1].optimizer, Optimizer::Momentum { mu: 0.9 });
    assert_eq!(
        t.phases[2].optimizer,
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8
        }
    );
    let decay = t.decay.as_ref().unwrap();
    assert_eq!(decay.metric, Metric::VALIDATION_ACCURACY);
    assert_eq!((decay.factor, decay.patience), (0.5, 10));
    assert_eq!(decay.stop_below, Some(1.0 / 128.0));
    let stop = t.early_stop.as_ref().unwrap();
    assert_eq!((stop.metric, stop.patience), (Metric::VALIDATION_COST, 20));
    assert_eq!(t.metrics, [Metric::TRAIN_COST, Metric::VALIDATION_ACCURACY]);
}

#[test]
fn train_defaults() {
    let source = format!(
        "{MODEL}
         data d {{ train idx(\"i\", labels: \"l\") test idx(\"j\", labels: \"k\") labels one_hot(10) }}
         train mlp on d {{ learning_rate 0.1 batch_size 10 epochs 30 at epoch 1 {{ batch_size 5 }} }}"
    );
    let p = program(&source);
    let t = &p.trains[0];
    assert_eq!(t.seed, 0);
    assert_eq!(t.phases.len(), 1, "`at epoch 1` changes the first phase");
    assert_eq!(
        (t.phases[0].batch_size, t.phases[0].optimizer.clone()),
        (5, Optimizer::Sgd)
    );
    assert_eq!(t.metrics, [Metric::TEST_ACCURACY]);
    assert!(t.decay.is_none() && t.early_stop.is_none());
}

#[test]
fn parts_with_errors_are_left_out() {
    let checked = common::check(&format!(
        "{MODEL}
         model broken {{ input x: [4] layers {{ dense(0) }} }}
         data d {{ train idx(\"i\", labels: \"l\") labels one_hot(10) }}
         train mlp on d {{ batch_size 10 epochs 30 }}"
    ));
    assert!(checked.has_errors());
    let p = &checked.program;
    assert!(p.model("mlp").is_some());
    assert!(p.model("broken").is_none());
    assert!(p.data("d").is_some());
    assert!(p.trains.is_empty());
}

/// A game: the block's models in order, one `StepSpec` per step in the
/// written order with its optimizer (the block's by default), rates by
/// phase and repeat; every step's graph holds every player's layers, only
/// its own model's trained; `real` and `labels` are its inputs; the
/// reported values are its outputs.
#[test]
fn a_game_has_one_step_graph_per_step() {
    let p = program(
        "model g {
           input z: [3]
           input c: [2]
           output x = dense(concat(z, c), 4, act: tanh)
         }
         model d {
           input x: [4]
           input c: [2]
           output logit = dense(concat(x, c), 1)
         }
         data pts {
           train csv(\"p.csv\", label: \"k\", header: true)
           labels one_hot(2)
         }
         train g, d on pts {
           batch_size 8
           epochs 5
           optimizer adam
           learning_rate 0.001
           step d {
             repeat 2
             optimizer sgd
             let r = d(real, labels)
             cost softplus(-r) + softplus(d(detach(g(normal([3]), labels)), labels))
             let p = sigmoid(r)
             report p
           }
           step g {
             cost softplus(-d(g(normal([3]), labels), labels))
             at epoch 3 { learning_rate 0.0005 }
           }
         }",
    );
    let t = &p.trains[0];
    assert_eq!(t.players, ["g", "d"]);
    assert!(t.is_game());
    let [d, g] = t.steps.as_slice() else {
        panic!("two steps: {:?}", t.steps.len())
    };
    assert_eq!((d.model.as_str(), d.repeat), ("d", 2));
    assert_eq!(d.optimizer, Optimizer::Sgd);
    assert!(matches!(g.optimizer, Optimizer::Adam { .. }));
    assert_eq!(g.rates, [(1, 0.001), (3, 0.0005)]);
    assert_eq!((g.rate_at(2), g.rate_at(4)), (0.001, 0.0005));
    for step in &t.steps {
        let names: Vec<&str> = step.graph.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["g.x", "d.logit"], "{}", step.model);
        for layer in &step.graph.layers {
            let own = layer.name.starts_with(&format!("{}.", step.model));
            assert!(
                layer.params.iter().all(|p| p.trained == own),
                "{}",
                layer.name
            );
        }
        let inputs: Vec<&str> = step
            .graph
            .inputs
            .iter()
            .map(|&id| step.graph.node(id).name.as_str())
            .collect();
        assert_eq!(inputs, ["real", "labels"]);
    }
    let reported: Vec<&str> = d.graph.outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(reported, ["p"]);
    assert_eq!(t.game_terms(), ["d", "g", "p"]);
    let view = t.data_view().unwrap();
    assert_eq!(view.inputs.len(), 1);
}

/// Settings that follow one model's metric are not settings of a game.
#[test]
fn a_game_has_no_metrics() {
    let source = "model g {
           input z: [2]
           output x = dense(z, 2)
         }
         model d {
           input x: [2]
           output y = dense(x, 1)
         }
         data pts {
           train csv(\"p.csv\", header: true)
           labels none
         }
         train g, d on pts {
           batch_size 8
           epochs 5
           learning_rate 0.01
           metrics [train_cost]
           step d { cost softplus(-d(real)) + softplus(d(detach(g(normal([2]))))) }
           step g { cost softplus(-d(g(normal([2])))) }
         }";
    let (file, _) = nnc_syntax::parse(source);
    let checked = nnc_check::check(&file);
    let codes: Vec<&str> = checked.errors.iter().map(|e| e.code()).collect();
    assert_eq!(codes, ["E0112"]);
}
