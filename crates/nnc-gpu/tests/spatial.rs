//! The wgpu backend against the interpreter on convolutional networks and
//! on the fixtures that exercise every cost, activation, layer form and
//! optimizer (lavapipe in CI): costs of every step, every parameter after
//! every step, and an evaluation (see `support::agree_within`; tolerance
//! `1e-4` relative to each tensor's scale).
//!
//! Two runs get an extra absolute allowance, both from float rounding
//! order, not from a formula: Adam's first step divides by the square
//! root of a tiny second moment, which magnifies a last-bit difference in
//! a gradient (`1e-3 x learning rate`), and the mixed fixtures under SGD
//! see one reshaped weight differ after two steps by about `1e-5`
//! (`1e-4 x learning rate`).

mod support;

use nnc_check::program::{Model, Optimizer};
use support::{agree_within, model, repo_file};

fn file_model(path: &str) -> Model {
    model(&repo_file(path))
}

fn file_models(path: &str) -> Vec<Model> {
    let (file, syntax) = nnc_syntax::parse(&repo_file(path));
    assert!(syntax.is_empty(), "{path}: {syntax:?}");
    nnc_check::check(&file).program.models
}

#[test]
fn pooling_with_every_kind_and_ceil_rounding() {
    let m = file_model("tests/fixtures/ok/pooling.nnet");
    agree_within("pooling", &m, &Optimizer::Sgd, 3, &[3, 2], 3, 0.0);
}

#[test]
fn convolutions_with_padding_and_stride() {
    let m = file_model("tests/fixtures/ok/conv_padding.nnet");
    agree_within("conv_padding", &m, &Optimizer::Sgd, 2, &[2], 2, 0.0);
}

#[test]
fn lenet5_with_momentum() {
    let m = file_model("models/lenet5.nnet");
    let momentum = Optimizer::Momentum { mu: 0.9 };
    agree_within("lenet5", &m, &momentum, 4, &[4, 3], 2, 0.0);
}

#[test]
fn the_20_40_map_network_with_dropout() {
    let m = file_model("models/conv_20_40.nnet");
    agree_within("conv_20_40", &m, &Optimizer::Sgd, 4, &[4], 2, 0.0);
}

#[test]
fn every_activation_with_sgd_momentum_and_adam() {
    let m = file_model("tests/fixtures/ok/activations.nnet");
    agree_within("activations sgd", &m, &Optimizer::Sgd, 5, &[5, 2], 3, 0.0);
    let momentum = Optimizer::Momentum { mu: 0.9 };
    agree_within("activations momentum", &m, &momentum, 5, &[5, 2], 3, 0.0);
    let adam = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    agree_within("activations adam", &m, &adam, 5, &[5, 2], 3, 1e-3);
}

#[test]
fn costs_and_regularizers_with_nesterov() {
    let m = file_model("tests/fixtures/ok/costs_regularizers.nnet");
    let nesterov = Optimizer::Nesterov { mu: 0.5 };
    agree_within("costs", &m, &nesterov, 5, &[5], 3, 0.0);
}

#[test]
fn every_model_of_the_mixed_fixtures() {
    for path in [
        "tests/fixtures/ok/costs_regularizers.nnet",
        "tests/fixtures/ok/activations.nnet",
        "tests/fixtures/ok/layers_mlp.nnet",
        "tests/fixtures/ok/reshape_flatten.nnet",
        "tests/fixtures/ok/dataflow_model.nnet",
        "tests/fixtures/ok/shared_layer.nnet",
        "tests/fixtures/ok/block_dataflow.nnet",
        "tests/fixtures/ok/layers_value.nnet",
        "models/conv_ch43_3maps.nnet",
        "models/universality_1d.nnet",
        "models/perceptron.nnet",
    ] {
        for m in file_models(path) {
            // The helper draws one input and one labelled output.
            if m.cost.is_none() || m.inputs.len() != 1 || m.outputs.len() != 1 {
                continue;
            }
            let name = format!("{path} {}", m.name);
            agree_within(&name, &m, &Optimizer::Sgd, 4, &[4, 3], 2, 1e-4);
        }
    }
}

#[test]
fn output_layers_with_their_costs() {
    for source in [
        "model a { input x: [6] layers { dense(5, act: tanh) dense(4, act: softmax) } cost quadratic }",
        "model b { input x: [6] layers { dense(5, act: relu) dense(4, act: sigmoid) } cost cross_entropy }",
        "model c { input x: [6] layers { dense(5, act: sigmoid) dense(4) softmax } cost log_likelihood }",
        "model d { input x: [6] layers { dense(5, act: tanh) dense(1, act: sigmoid) } cost cross_entropy }",
    ] {
        let m = model(source);
        agree_within(source, &m, &Optimizer::Sgd, 5, &[5, 2], 3, 0.0);
    }
}
