//! State that is not trained: a training graph whose forward pass gives a
//! parameter a new value (a running mean of the model's input, as running
//! statistics do) emits a valid program that keeps that new value for the
//! backend to commit, like the optimizer's new parameters.

use nnc_check::program::{Init, Optimizer, Param, ParamRole};
use nnc_ir::{fuse_verified, InputKind, Op, OutputKind};
use nnc_lower::backend::TrainSetup;
use nnc_lower::compile_training_from;
use nnc_lower::lower::{lower, running_average, Lowering};
use nnc_lower::params::{find_param, param_specs};
use nnc_wgsl::{emit, validate, Target};

#[test]
fn a_forward_update_of_state_is_kept_for_the_backend() {
    let (file, _) = nnc_syntax::parse(
        "model net {
           input x: [3]
           layers {
             dense(4, act: sigmoid)
             dense(2, act: sigmoid)
           }
           cost quadratic
         }",
    );
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors());
    let mut model = checked.program.models.into_iter().next().unwrap();
    model.layers[0].params.push(Param {
        name: "input_mean".to_string(),
        role: ParamRole::Statistic,
        shape: vec![3],
        init: Init::Zeros,
        decay: false,
        trained: false,
    });
    let optimizer = Optimizer::Momentum { mu: 0.9 };
    let setup = TrainSetup {
        model: &model,
        optimizer: &optimizer,
        batch_size: 4,
        train_size: 100,
        clip: Default::default(),
    };
    let mode = Lowering {
        training: true,
        nesterov_mu: None,
    };
    let mut graph = lower(&model, mode, 4).unwrap();
    let k = find_param(&model, 0, "input_mean").unwrap();
    let spec = param_specs(&model).swap_remove(k);
    let x = graph.input(InputKind::Data(0)).unwrap();
    let sum = graph
        .add(Op::SumAxes { axes: vec![0] }, vec![x], "x.sum")
        .unwrap();
    let mean = graph.add(Op::Scale(0.25), vec![sum], "x.mean").unwrap();
    running_average(&mut graph, k, &spec, mean, 0.9).unwrap();
    let graph = fuse_verified(&compile_training_from(graph, &setup, None).unwrap()).unwrap();
    let target = Target::default();
    let program = emit(&graph, &target).unwrap();
    program.check(&target).unwrap();
    validate(&program).unwrap();
    for k in 0..5 {
        let kept = program.output_range(OutputKind::NewParam(k));
        assert_eq!(
            kept.map(|r| r.len),
            Some(spec_len(&model, k)),
            "parameter {k}"
        );
    }
    assert!(program.output_range(OutputKind::Gradient(k)).is_none());
}

fn spec_len(model: &nnc_check::program::Model, k: usize) -> usize {
    param_specs(model)[k].shape.iter().product()
}
