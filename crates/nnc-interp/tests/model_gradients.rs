//! Whole-model gradient checks: source text is parsed and checked, lowered
//! and differentiated (`compile_training(.., Some("autodiff"))`), and the
//! gradient of the mean cost with respect to every parameter value is
//! compared with finite differences, in `f64` (tolerance in
//! `support/gradcheck.rs`).

mod support;

use nnc_check::program::{Model, Op, Optimizer};
use nnc_ir::rng::Rng;
use nnc_ir::InputKind;
use nnc_lower::backend::TrainSetup;
use nnc_lower::{compile_training, init_params, param_specs};
use support::gradcheck::{check, Problem};

/// The gradient-check problem of `model` on a random batch.
fn model_problem(model: &Model, batch: usize, seed: u64) -> Problem {
    let setup = TrainSetup {
        model,
        optimizer: &Optimizer::Sgd,
        batch_size: batch,
        train_size: 100,
        clip: Default::default(),
    };
    let graph = compile_training(&setup, batch, Some("autodiff")).unwrap();
    let mut rng = Rng::new(seed);
    let mut values = Vec::new();
    for (k, p) in init_params(model, seed).into_iter().enumerate() {
        // Small random biases too, so no unit sits exactly at a kink.
        let v = p
            .data
            .iter()
            .map(|&x| x as f64 + 0.1 * rng.normal())
            .collect();
        values.push((InputKind::Param(k), v));
    }
    for (k, &input) in model.inputs.iter().enumerate() {
        let n = batch * model.node(input).shape.iter().product::<usize>();
        // An embedding reads class indices.
        let rows = model.nodes.iter().find_map(|node| match node.op {
            Op::Embed { vocabulary, .. } if node.inputs.first() == Some(&input) => Some(vocabulary),
            _ => None,
        });
        let data = match rows {
            Some(rows) => (0..n).map(|_| rng.below(rows) as f64).collect(),
            None => (0..n).map(|_| rng.normal()).collect(),
        };
        values.push((InputKind::Data(k), data));
    }
    // A model that carries recurrent state (`bptt`) starts from the state
    // the batch before ended with: any values, not zeros.
    for (kind, id) in graph.inputs() {
        if let InputKind::Carry(_) = kind {
            let n: usize = graph.shape(id).iter().product();
            values.push((kind, (0..n).map(|_| 0.5 * rng.normal()).collect()));
        }
    }
    // A model whose costs all compare outputs with inputs reads no labels.
    if let Some(target) = graph.input(InputKind::Target) {
        let shape = graph.shape(target).to_vec();
        // One class per row: per example, or per step of a sequence.
        let width = *shape.last().unwrap_or(&1);
        let rows = batch * shape[1..shape.len() - 1].iter().product::<usize>();
        let mut y = vec![0.0; rows * width];
        for row in 0..rows {
            if width == 1 {
                y[row] = rng.uniform();
            } else {
                y[row * width + rng.below(width)] = 1.0;
            }
        }
        values.push((InputKind::Target, y));
    }
    let wrt = (0..param_specs(model).len())
        .map(InputKind::Param)
        .collect();
    Problem {
        graph,
        values,
        wrt,
        seed: 99,
    }
}

fn check_model(source: &str, batch: usize) {
    let model = support::model(source);
    let compared = check(model_problem(&model, batch, 5), &model.name);
    let params: usize = param_specs(&model)
        .iter()
        .map(|p| p.shape.iter().product::<usize>())
        .sum();
    assert_eq!(compared, params, "every parameter value is checked");
}

#[test]
fn dense_network() {
    check_model(
        "model dense {
           input x: [4]
           layers {
             dense(5, act: tanh)
             dense(4, act: relu)
             dense(3, act: sigmoid)
           }
           cost cross_entropy
         }",
        3,
    );
}

/// A cost on the labels plus a weighted cost against the model's input:
/// the encoder gets the gradient of both heads, each head its own.
#[test]
fn a_labelled_cost_plus_a_weighted_reconstruction_cost() {
    check_model(
        "model two_heads {
           input x: [6]
           let hidden = dense(x, 4, act: tanh)
           output label = dense(hidden, 3, act: softmax)
           output reconstruction = dense(hidden, 6)
           cost log_likelihood(label)
           cost quadratic(reconstruction, target: x, weight: 0.3)
         }",
        3,
    );
}

/// A denoising autoencoder: masking noise (fixed by the step seed) on the
/// input, the cost against the clean input.
#[test]
fn a_denoising_autoencoder_with_masking_noise() {
    check_model(
        "model denoising {
           input x: [6]
           layers {
             mask_noise(0.3)
             dense(3, act: tanh)
             dense(6)
           }
           cost quadratic(target: x)
         }",
        3,
    );
}

/// The contractive autoencoder's penalty: the encoder's weights
/// (`weight(encoder)`, the same for every example) in an expression with
/// the per-example code; the gradient reaches the weights both through the
/// code and directly. `bias(encoder)` in a penalty of its own too.
#[test]
fn a_contractive_penalty_reads_the_encoder_weights() {
    check_model(
        "model contractive {
           input x: [6]
           layer encoder = dense(3, act: sigmoid)
           let code = encoder(x)
           output y = dense(code, 6)
           let norms = sum(square(weight(encoder)), axis: 1)
           cost quadratic(y, target: x)
           cost 0.5 * sum(square(code * (1 - code)) * norms)
           cost 0.1 * sum(square(bias(encoder)))
         }",
        3,
    );
}

/// The KL sparsity penalty of a sparse autoencoder: each code unit's mean
/// activation over the batch (`batch_mean`), pulled towards rho; the
/// gradient reaches every example's code through the batch mean.
#[test]
fn a_kl_sparsity_penalty_over_the_batch_mean() {
    check_model(
        "model sparse {
           input x: [6]
           let code = dense(x, 4, act: sigmoid)
           output y = dense(code, 6)
           let rho_hat = batch_mean(code)
           cost quadratic(y, target: x)
           cost 3 * sum(0.2 * log(0.2 / rho_hat) + 0.8 * log(0.8 / (1 - rho_hat)))
         }",
        4,
    );
}

#[test]
fn a_denoising_autoencoder_with_gaussian_noise() {
    check_model(
        "model denoising {
           input x: [6]
           layers {
             gaussian_noise(0.5)
             dense(3, act: tanh)
             dense(6)
           }
           cost quadratic(target: x)
         }",
        3,
    );
}

/// Tensor expressions: the elementwise functions, operators with numbers,
/// division, min/max and reductions, all differentiated by the IR.
#[test]
fn tensor_expressions_in_a_dataflow_model() {
    check_model(
        "model expressions {
           input x: [2, 3]
           let h = dense(flatten(x), 6, act: tanh)
           let a = log(square(h) + 1) + sqrt(abs(h) + 0.5) + exp(0 - h)
           let b = 2 / (square(h) + 1) - pow(h, 3) * 0.5 + (1 - h) / (h * h + 2)
           let c = min(a, b) + max(a, 2 * b)
           let m = reshape(c, shape: [2, 3])
           let s = sum(m, axis: 1) + mean(m, axis: 1)
           let t = mean(m) + sum(square(m))
           output y = softmax(dense(mul(s, s), 3) + dense(t, 3))
           cost log_likelihood
         }",
        3,
    );
}

/// `concat` along an axis and slices of a tensor's first axis: the pieces
/// of a split code, put back together in another order.
#[test]
fn concat_and_slices_of_tensors() {
    check_model(
        "model pieces {
           input x: [4, 3]
           let front = x[..1]
           let back = x[1..]
           let joined = concat(back, front * 2, axis: 0)
           let wide = concat(joined, square(joined), axis: 1)
           output y = dense(flatten(wide), 3, act: softmax)
           cost log_likelihood
         }",
        3,
    );
}

/// A sparse autoencoder: the reconstruction cost plus an L1 activity
/// penalty on the code written as an expression (`cost EXPR`).
#[test]
fn a_cost_expression_adds_a_penalty_to_the_cost() {
    check_model(
        "model sparse {
           input x: [5]
           let code = dense(x, 3, act: sigmoid)
           output y = dense(code, 5)
           cost quadratic(y, target: x)
           cost 0.1 * sum(abs(code)) + 0.05 * mean(square(code - 0.5))
         }",
        4,
    );
}

/// A variational autoencoder: the reparameterisation trick with normal
/// noise fixed by the step seed, and the KL term as a cost expression.
#[test]
fn a_variational_autoencoder_with_reparameterised_noise() {
    check_model(
        "model vae {
           input x: [6]
           let hidden = dense(x, 5, act: tanh)
           let mu = dense(hidden, 2)
           let logvar = dense(hidden, 2)
           let z = mu + exp(0.5 * logvar) * normal([2])
           output y = dense(z, 6)
           cost quadratic(y, target: x)
           cost 0.5 * sum(square(mu) + exp(logvar) - logvar - 1)
         }",
        3,
    );
}

/// An autoencoder: its only cost compares the output with the input.
#[test]
fn an_autoencoder_with_only_a_reconstruction_cost() {
    check_model(
        "model autoencoder {
           input x: [5]
           layers {
             dense(2, act: sigmoid)
             dense(5)
           }
           cost quadratic(target: x, weight: 2)
         }",
        4,
    );
}

/// A convolutional autoencoder: strided convolutions down, a transposed
/// convolution with output padding and both kinds of upsampling back up.
#[test]
fn a_convolutional_autoencoder_with_transposed_convolutions_and_upsampling() {
    check_model(
        "model autoencoder {
           input image: [1, 6, 6]
           layers {
             conv2d(2, 3, stride: 2, padding: same, act: relu) -> [2, 3, 3]
             conv2d_transpose(3, 2, stride: 2, padding: 1, output_padding: 1, act: tanh) -> [3, 5, 5]
             upsample(2, mode: bilinear) -> [3, 10, 10]
             conv2d(2, 3, stride: 2, act: relu) -> [2, 4, 4]
             upsample([2, 1]) -> [2, 8, 4]
             conv2d_transpose(1, [1, 3], padding: [1, 1, 0, 0], act: sigmoid) -> [1, 6, 6]
           }
           cost cross_entropy(target: image)
         }",
        2,
    );
}

/// A dataflow block of two inputs and two outputs, unpacked by `let (a,
/// b) = ...`: the gradient reaches the block's layers through both.
#[test]
fn a_block_of_two_outputs() {
    check_model(
        "block heads(units) {
           input x
           input y
           let h = dense(concat(x, y), 4, act: tanh)
           output mu = dense(h, units)
           output logvar = dense(h, units)
         }
         model m {
           input a: [3]
           input b: [2]
           let (mu, logvar) = heads(a, b, 2)
           output out = dense(mu * exp(0.5 * logvar), 3, act: softmax)
           cost log_likelihood
         }",
        3,
    );
}

#[test]
fn conv_pool_dense_network() {
    check_model(
        "model cnn {
           input image: [2, 7, 7]
           layers {
             conv2d(3, kernel: 3, stride: 2, padding: [1, 0, 1, 2], act: relu) -> [3, 3, 4]
             max_pool(2, round: ceil) -> [3, 2, 2]
             flatten
             dense(4, act: softmax)
           }
           cost log_likelihood
         }",
        2,
    );
}

#[test]
fn conv_with_average_and_l2_pooling_and_dropout() {
    check_model(
        "model pools {
           input image: [1, 6, 6]
           layers {
             conv2d(2, kernel: 3, padding: 1, act: sigmoid) -> [2, 6, 6]
             avg_pool(3, stride: 2, round: ceil) -> [2, 3, 3]
             dropout(0.3)
             l2_pool(2, stride: 1) -> [2, 2, 2]
             flatten
             dense(2)
           }
           cost quadratic
         }",
        3,
    );
}

#[test]
fn shared_layer_gets_the_sum_of_both_gradients() {
    check_model(
        "model tied {
           input a: [5]
           input b: [5]
           layer proj = dense(3, act: tanh)
           let pa = proj(a)
           let pb = b |> proj
           output score = (pa * pb) |> dense(1, act: sigmoid)
           cost cross_entropy
         }",
        3,
    );
}

#[test]
fn dataflow_arithmetic_and_activation_calls() {
    check_model(
        "model flow {
           input x: [4]
           let h = x |> dense(4, act: relu)
           let mixed = 0.5 * (x + h) - h * x
           let logits = dense(mixed, 3)
           output probs = softmax(logits)
           cost log_likelihood
         }",
        2,
    );
}

#[test]
fn repeated_layer_in_a_stack() {
    check_model(
        "model repeated {
           input x: [3]
           layer hop = dense(3, act: tanh)
           layers {
             hop
             hop
             dense(2, act: softmax)
           }
           cost log_likelihood
         }",
        2,
    );
}

/// Both steps of a tiny GAN: each step's cost is differentiated with
/// respect to the parameters of the model it updates only (the other
/// model's get no gradient output), through the other model's layers (the
/// generator's step reaches the generator through the discriminator) and
/// not through `detach` (the discriminator's step).
#[test]
fn each_step_of_a_game_reaches_its_own_model_only() {
    let program = support::program(
        "model g {
           input z: [3]
           layers {
             dense(5)
             leaky_relu(0.2)
             dense(4, act: sigmoid)
           }
         }
         model d {
           input x: [4]
           layers {
             dense(5, act: tanh)
             dense(1)
           }
         }
         data pairs {
           train csv(\"pairs.csv\", header: true)
           labels none
         }
         train g, d on pairs {
           batch_size 3
           epochs 1
           optimizer adam
           learning_rate 0.001
           step d {
             let fake = detach(g(normal([3])))
             cost softplus(-d(real)) + softplus(d(fake))
           }
           step g {
             cost softplus(-d(g(normal([3]))))
           }
         }",
    );
    let spec = &program.trains[0];
    assert_eq!(spec.steps.len(), 2);
    for step in &spec.steps {
        let model = &step.graph;
        let specs = param_specs(model);
        let mut problem = model_problem(model, 3, 5);
        let trained: Vec<usize> = (0..specs.len()).filter(|&k| specs[k].trained).collect();
        for (k, spec) in specs.iter().enumerate() {
            let has_gradient = problem
                .graph
                .outputs
                .iter()
                .any(|o| o.kind == nnc_ir::graph::OutputKind::Gradient(k));
            assert_eq!(has_gradient, spec.trained, "{}: {}", model.name, spec.name);
            assert_eq!(
                spec.trained,
                spec.name.starts_with(&format!("{}.", step.model)),
                "{}",
                spec.name
            );
        }
        problem.wrt = trained.iter().map(|&k| InputKind::Param(k)).collect();
        let compared = check(problem, &model.name);
        let values: usize = trained
            .iter()
            .map(|&k| specs[k].shape.iter().product::<usize>())
            .sum();
        assert_eq!(compared, values, "every value of {} is checked", step.model);
    }
}

/// Backpropagation through time: the plain RNN, the LSTM (its last state)
/// and a stacked bidirectional GRU over a sequence of four steps, every
/// weight of every step checked against finite differences.
#[test]
fn recurrent_builtins_through_time() {
    for layer in [
        "rnn(3)",
        "rnn(3, act: relu, return: last)",
        "lstm(3, return: last, forget_bias: 1.0)",
        "gru(3, layers: 2, bidirectional: true)",
        "lstm(2, layers: 2, bidirectional: true, return: last)",
    ] {
        check_model(
            &format!(
                "model seq {{
                   input x: [4, 2]
                   let h = x |> {layer}
                   output y = h |> flatten |> dense(3, act: softmax)
                   cost log_likelihood
                 }}"
            ),
            2,
        );
    }
}

/// A cell written as a block, unrolled over the steps with its two states
/// starting from tensors computed from a second input (a carried state):
/// the gradient reaches the cell's weights through every step and the
/// layers that make the initial states.
#[test]
fn an_unrolled_cell_with_given_initial_states() {
    check_model(
        "block cell(units) {
           input x
           input h: [units]
           input c: [units]
           let xh = concat(x, h)
           let gate = dense(xh, units, act: sigmoid)
           let fresh = dense(xh, units, act: tanh)
           output c_next = gate * c + (1 - gate) * fresh
           output h_next = tanh(c_next)
         }
         model carried {
           input x: [3, 2]
           input start: [2]
           let h0 = dense(start, 3, act: tanh)
           let c0 = dense(start, 3)
           let states = unroll(cell(3), x, state: [h0, c0])
           output y = states |> flatten |> dense(2, act: softmax)
           cost log_likelihood
         }",
        2,
    );
}

/// A character model: embedded indices, an LSTM, a softmax at every step
/// and the cost averaged over the steps.
#[test]
fn an_embedded_sequence_with_a_cost_at_every_step() {
    check_model(
        "model chars {
           input text: [4]
           layers {
             embed(5, 3)
             lstm(3)
             dense(5, act: softmax)
           }
           cost log_likelihood
         }",
        2,
    );
}

/// Truncated backpropagation through time (`bptt`): each recurrent layer,
/// and the states an `unroll` starts at zero, start from the state the
/// batch before ended with, a graph input of any value; the gradient of
/// every weight through the window's steps matches finite differences.
#[test]
fn recurrent_layers_that_start_from_a_carried_state() {
    for layer in ["rnn(3)", "lstm(3, layers: 2)", "gru(3, return: last)"] {
        let model = support::model(&format!(
            "model seq {{
               input x: [4, 2]
               let h = x |> {layer}
               output y = h |> flatten |> dense(3, act: softmax)
               cost log_likelihood
             }}"
        ))
        .carrying();
        let problem = model_problem(&model, 2, 5);
        let carried = problem
            .values
            .iter()
            .filter(|(kind, _)| matches!(kind, InputKind::Carry(_)))
            .count();
        // h of each layer, and c of each LSTM layer.
        let expected = if layer.starts_with("lstm") { 4 } else { 1 };
        assert_eq!(carried, expected, "{layer}");
        check(problem, &model.name);
    }
    let unrolled = support::model(
        "block cell(units) {
           input x
           input h: [units]
           output h_next = dense(concat(x, h), units, act: tanh)
         }
         model carried {
           input x: [3, 2]
           let hs = unroll(cell(3), x)
           output y = hs |> flatten |> dense(2, act: softmax)
           cost log_likelihood
         }",
    )
    .carrying();
    assert_eq!(unrolled.zero_states.len(), 1);
    let problem = model_problem(&unrolled, 2, 7);
    assert!(problem
        .values
        .iter()
        .any(|(kind, _)| *kind == InputKind::Carry(0)));
    check(problem, &unrolled.name);
}
