//! Layers with any list of parameters: the layout follows the layers'
//! declarations, optimizer state follows the trained ones, and state that is
//! not trained gets no gradient and no optimizer update, only the new value
//! the forward pass gives it (`Graph::add_param_update`).
//!
//! No layer of the language declares state yet, so these tests add a
//! declaration `input_mean` (a running mean of the layer's input) to a
//! checked model and build its forward update by hand.

use nnc_check::program::{Init, Model, Optimizer, Param, ParamRole};
use nnc_ir::{CompileError, Graph, InputKind, NodeId, Op, OutputKind};
use nnc_lower::backend::TrainSetup;
use nnc_lower::lower::{lower, running_average, Lowering};
use nnc_lower::params::{find_param, optimizer_state, param_specs, states_of};
use nnc_lower::{compile_training, compile_training_from};

fn model(source: &str) -> Model {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "{syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    checked.program.models.into_iter().next().unwrap()
}

/// Two dense layers, L2-regularized.
fn net() -> Model {
    model(
        "model net {
           input x: [3]
           layers {
             dense(4, act: sigmoid)
             dense(2, act: sigmoid)
           }
           cost quadratic
           regularize l2(5.0)
         }",
    )
}

/// `net` whose first layer also keeps `input_mean`, a statistic of its
/// input that is not trained.
fn net_with_statistic() -> Model {
    let mut m = net();
    m.layers[0].params.push(Param {
        name: "input_mean".to_string(),
        role: ParamRole::Statistic,
        shape: vec![3],
        init: Init::Constant(0.5),
        decay: false,
        trained: false,
    });
    m
}

fn momentum() -> Optimizer {
    Optimizer::Momentum { mu: 0.9 }
}

fn adam() -> Optimizer {
    Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    }
}

fn setup<'a>(model: &'a Model, optimizer: &'a Optimizer) -> TrainSetup<'a> {
    TrainSetup {
        model,
        optimizer,
        batch_size: 5,
        train_size: 100,
        clip: Default::default(),
    }
}

/// The training graph of `setup` whose forward pass updates `input_mean`
/// to `0.9 old + 0.1 mean(x)`, the mean over the batch of the model's
/// input.
fn with_running_mean(setup: &TrainSetup<'_>, batch: usize) -> Result<Graph, CompileError> {
    let mode = Lowering::for_training(setup.optimizer);
    let mut graph = lower(setup.model, mode, batch)?;
    let k = find_param(setup.model, 0, "input_mean").expect("the statistic");
    let spec = param_specs(setup.model).swap_remove(k);
    let x = graph.input(InputKind::Data(0)).expect("the input");
    let sum = graph.add(Op::SumAxes { axes: vec![0] }, vec![x], "x.sum")?;
    let mean = graph.add(Op::Scale(1.0 / batch as f64), vec![sum], "x.mean")?;
    running_average(&mut graph, k, &spec, mean, 0.9)?;
    compile_training_from(graph, setup, None)
}

/// Whether `of` depends on `on` in `graph`.
fn depends(graph: &Graph, of: NodeId, on: NodeId) -> bool {
    let mut reach = vec![false; graph.len()];
    reach[of.index()] = true;
    for id in graph.ids().rev() {
        if reach[id.index()] {
            for &i in &graph.node(id).inputs {
                reach[i.index()] = true;
            }
        }
    }
    reach[on.index()]
}

#[test]
fn the_parameters_follow_the_declarations() {
    let m = net_with_statistic();
    let specs = param_specs(&m);
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dense_1.weight",
            "dense_1.bias",
            "dense_1.input_mean",
            "dense_2.weight",
            "dense_2.bias"
        ]
    );
    let flags: Vec<(ParamRole, bool, bool)> =
        specs.iter().map(|s| (s.role, s.decay, s.trained)).collect();
    assert_eq!(
        flags,
        [
            (ParamRole::Weight, true, true),
            (ParamRole::Bias, false, true),
            (ParamRole::Statistic, false, false),
            (ParamRole::Weight, true, true),
            (ParamRole::Bias, false, true),
        ]
    );
    assert_eq!(find_param(&m, 0, "input_mean"), Some(2));
    assert_eq!(find_param(&m, 1, "weight"), Some(3));
    assert_eq!(find_param(&m, 1, "input_mean"), None);
    // Initialised from its own declaration.
    let init = nnc_lower::init_params(&m, 7);
    assert_eq!(init[2].shape, vec![3]);
    assert_eq!(init[2].data, vec![0.5; 3]);
}

#[test]
fn a_declaration_not_trained_is_never_decayed() {
    let mut m = net_with_statistic();
    m.layers[0].params[2].decay = true;
    assert!(!param_specs(&m)[2].decay);
}

#[test]
fn optimizer_state_follows_the_trained_parameters_only() {
    let m = net_with_statistic();
    let names = |o: &Optimizer| -> Vec<String> {
        optimizer_state(&m, o).into_iter().map(|s| s.name).collect()
    };
    assert_eq!(
        names(&momentum()),
        [
            "dense_1.weight.velocity",
            "dense_1.bias.velocity",
            "dense_2.weight.velocity",
            "dense_2.bias.velocity"
        ]
    );
    assert_eq!(names(&adam()).len(), 4 * 2 + 1);
    assert!(names(&adam()).iter().all(|n| !n.contains("input_mean")));
    let states = optimizer_state(&m, &adam());
    assert_eq!(states_of(&states, 2), Vec::<usize>::new());
    assert_eq!(states_of(&states, 3), [4, 5]);
    let velocities = optimizer_state(&m, &momentum());
    assert_eq!(states_of(&velocities, 4), [3]);
}

#[test]
fn models_whose_parameters_are_all_trained_keep_their_layout() {
    // State `k` (momentum) or `2k`, `2k + 1` (Adam) of parameter `k`: the
    // layout of every checkpoint written so far.
    let m = net();
    let velocities = optimizer_state(&m, &momentum());
    let moments = optimizer_state(&m, &adam());
    for k in 0..param_specs(&m).len() {
        assert_eq!(states_of(&velocities, k), [k]);
        assert_eq!(states_of(&moments, k), [2 * k, 2 * k + 1]);
    }
    assert_eq!(moments.last().map(|s| s.name.as_str()), Some("adam.step"));
}

#[test]
fn state_gets_its_new_value_from_the_forward_pass_only() {
    let m = net_with_statistic();
    for optimizer in [
        Optimizer::Sgd,
        momentum(),
        Optimizer::Nesterov { mu: 0.5 },
        adam(),
    ] {
        let s = setup(&m, &optimizer);
        let graph = with_running_mean(&s, 5).unwrap();
        // Gradients of the trained parameters only.
        for k in 0..5 {
            let grad = graph.output_of(OutputKind::Gradient(k));
            assert_eq!(grad.is_some(), k != 2, "{optimizer:?}, parameter {k}");
        }
        // One new value each, the statistic's from the forward pass: it
        // depends on the input and not on the learning rate every optimizer
        // step reads.
        let news: Vec<&nnc_ir::Output> = graph
            .outputs
            .iter()
            .filter(|o| o.kind == OutputKind::NewParam(2))
            .collect();
        assert_eq!(news.len(), 1, "{optimizer:?}");
        let new = news[0].node;
        assert_eq!(graph.shape(new), [3]);
        let x = graph.input(InputKind::Data(0)).unwrap();
        assert!(depends(&graph, new, x), "{optimizer:?}");
        if let Some(lr) = graph.input(InputKind::LearningRate) {
            assert!(!depends(&graph, new, lr), "{optimizer:?}");
        }
        for k in [0, 1, 3, 4] {
            let new = graph.output_of(OutputKind::NewParam(k)).unwrap().node;
            let lr = graph.input(InputKind::LearningRate).unwrap();
            assert!(depends(&graph, new, lr), "{optimizer:?}, parameter {k}");
        }
        // Optimizer state of the trained parameters only.
        let states = optimizer_state(&m, &optimizer);
        let new_states = graph
            .outputs
            .iter()
            .filter(|o| matches!(o.kind, OutputKind::NewState(_)))
            .count();
        assert_eq!(new_states, states.len(), "{optimizer:?}");
        // Nesterov's look-ahead reads trained parameters only.
        for (kind, id) in graph.inputs() {
            if let InputKind::State(j) = kind {
                assert_eq!(graph.node(id).name, states[j].name);
            }
        }
    }
}

#[test]
fn state_without_a_forward_update_keeps_its_value() {
    let m = net_with_statistic();
    let graph = compile_training(&setup(&m, &momentum()), 5, None).unwrap();
    assert!(graph.output_of(OutputKind::NewParam(2)).is_none());
    assert!(graph.output_of(OutputKind::Gradient(2)).is_none());
    assert!(graph.input(InputKind::Param(2)).is_none());
    for k in [0, 1, 3, 4] {
        assert!(graph.output_of(OutputKind::NewParam(k)).is_some());
    }
}

#[test]
fn a_trained_parameter_gets_no_forward_update() {
    let m = net_with_statistic();
    let mut graph = lower(
        &m,
        Lowering {
            training: true,
            nesterov_mu: None,
        },
        5,
    )
    .unwrap();
    let spec = param_specs(&m).swap_remove(1);
    let b = graph.input(InputKind::Param(1)).unwrap();
    assert!(matches!(
        running_average(&mut graph, 1, &spec, b, 0.9),
        Err(CompileError::Internal { .. })
    ));
}

#[test]
fn a_new_value_of_another_shape_does_not_verify() {
    let m = net_with_statistic();
    let s = setup(&m, &Optimizer::Sgd);
    let mut graph = lower(
        &m,
        Lowering {
            training: true,
            nesterov_mu: None,
        },
        5,
    )
    .unwrap();
    let spec = param_specs(&m).swap_remove(2);
    graph
        .input_or_add(InputKind::Param(2), spec.shape.clone(), &spec.name)
        .unwrap();
    // The input's sum over the batch is [3]; over everything, a scalar.
    let x = graph.input(InputKind::Data(0)).unwrap();
    let all = graph
        .add(Op::SumAxes { axes: vec![0, 1] }, vec![x], "x.sum")
        .unwrap();
    graph.add_param_update(2, &spec.name, all);
    let error = compile_training_from(graph, &s, None).unwrap_err();
    assert!(
        matches!(&error, CompileError::Verify { pass: "lower", errors }
            if matches!(&errors[..], [nnc_ir::VerifyError::NewValueShape { .. }])),
        "{error:?}"
    );
}
