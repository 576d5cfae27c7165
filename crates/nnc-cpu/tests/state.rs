//! State that is not trained (running statistics), on the JIT backend: the
//! forward pass of each training step gives it a new value (an update
//! kernel of the fused graph that reads the model's input), which the
//! backend writes back as it does the optimizer's new parameters; the
//! optimizer never touches it. The interpreter backend, given the same
//! graphs, agrees.
//!
//! No layer of the language declares state yet: the model is a checked one
//! whose first layer gets an extra declaration, `input_mean`, updated to a
//! running mean of the layer's input by a graph built with the IR's own
//! building blocks (`lower`, `running_average`, `compile_training_from`).

mod support;

use nnc_check::program::{Init, Model, Optimizer, Param, ParamRole};
use nnc_cpu::JitBackend;
use nnc_interp::InterpBackend;
use nnc_ir::rng::Rng;
use nnc_ir::{CompileError, Graph, InputKind, Op};
use nnc_lower::backend::{Backend, Batch, TrainSetup};
use nnc_lower::lower::{lower, running_average, Lowering};
use nnc_lower::params::{find_param, optimizer_state, param_specs};
use nnc_lower::{compile_training_from, init_params};

const MOMENTUM: f64 = 0.9;

/// Two dense layers, L2-regularized; the first keeps `input_mean`.
fn net_with_statistic() -> Model {
    let mut m = support::model(
        "model net {
           input x: [3]
           layers {
             dense(4, act: sigmoid)
             dense(2, act: sigmoid)
           }
           cost quadratic
           regularize l2(5.0)
         }",
    );
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

/// The training graph whose forward pass updates `input_mean` to
/// `MOMENTUM old + (1 - MOMENTUM) mean(x)`, the batch mean of the input.
fn with_running_mean(setup: &TrainSetup<'_>, batch: usize) -> Result<Graph, CompileError> {
    let mode = Lowering::for_training(setup.optimizer);
    let mut graph = lower(setup.model, mode, batch)?;
    let k = find_param(setup.model, 0, "input_mean").expect("the statistic");
    let spec = param_specs(setup.model).swap_remove(k);
    let x = graph.input(InputKind::Data(0)).expect("the input");
    let sum = graph.add(Op::SumAxes { axes: vec![0] }, vec![x], "x.sum")?;
    let mean = graph.add(Op::Scale(1.0 / batch as f64), vec![sum], "x.mean")?;
    running_average(&mut graph, k, &spec, mean, MOMENTUM)?;
    compile_training_from(graph, setup, None)
}

#[test]
fn the_forward_pass_updates_state_and_the_optimizer_leaves_it_alone() {
    let model = net_with_statistic();
    let k = find_param(&model, 0, "input_mean").unwrap();
    for optimizer in [
        Optimizer::Sgd,
        Optimizer::Momentum { mu: 0.9 },
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
    ] {
        let mut jit = JitBackend::with_training_compiler(with_running_mean);
        let mut interp = InterpBackend::with_training_compiler(with_running_mean);
        let setup = TrainSetup {
            model: &model,
            optimizer: &optimizer,
            batch_size: 4,
            train_size: 14,
            clip: Default::default(),
        };
        let backends: [&mut dyn Backend; 2] = [&mut jit, &mut interp];
        for backend in backends {
            backend.configure(&setup).unwrap();
            backend.set_params(init_params(&model, 3)).unwrap();
        }
        assert_eq!(
            jit.optimizer_state().len(),
            optimizer_state(&model, &optimizer).len()
        );
        let mut expected: Vec<f64> = vec![0.5; 3];
        let mut rng = Rng::new(11);
        // Three batches of 4 and a shorter last batch of 2.
        for len in [4, 4, 4, 2] {
            let xs: Vec<f32> = (0..len * 3).map(|_| rng.normal() as f32 + 1.0).collect();
            let ys: Vec<f32> = (0..len * 2).map(|_| rng.uniform() as f32).collect();
            let batch = Batch {
                inputs: &xs,
                targets: &ys,
                len,
                noise_seed: 0,
            };
            jit.train_step(batch, 0.5, 0).unwrap();
            interp.train_step(batch, 0.5, 0).unwrap();
            for (j, e) in expected.iter_mut().enumerate() {
                let mean = (0..len).map(|i| f64::from(xs[i * 3 + j])).sum::<f64>() / len as f64;
                *e = MOMENTUM * *e + (1.0 - MOMENTUM) * mean;
            }
            let stat = &jit.params()[k];
            for (got, want) in stat.data.iter().zip(&expected) {
                assert!(
                    (f64::from(*got) - want).abs() < 1e-5,
                    "{optimizer:?}: input_mean {:?}, expected {expected:?}",
                    stat.data
                );
            }
            // Adam passes the rounding of tiny gradients into its steps at
            // full size: the allowance of the JIT's agreement tests,
            // `1e-4 * lr`.
            let extra = match optimizer {
                Optimizer::Adam { .. } => 1e-4 * 0.5,
                _ => 0.0,
            };
            for (j, (a, b)) in jit.params().iter().zip(interp.params()).enumerate() {
                support::assert_close(
                    &format!("{optimizer:?} parameter {j}"),
                    &a.data,
                    &b.data,
                    extra,
                );
            }
        }
    }
}
