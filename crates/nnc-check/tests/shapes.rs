//! Shape inference and parameter counts, with the book's numbers.

mod common;

use common::{model, params, stack_shape};
use nnc_check::program::{Init, Op, Param, ParamRole};

#[test]
fn book_convolution_and_pooling_sizes() {
    // 28x28 with a 5x5 receptive field: 24x24; 2x2 max-pooling: 12x12.
    assert_eq!(
        stack_shape("[1, 28, 28]", "conv2d(20, 5)"),
        vec![20, 24, 24]
    );
    assert_eq!(
        stack_shape("[1, 28, 28]", "conv2d(20, 5) max_pool(2)"),
        vec![20, 12, 12]
    );
    // 50 -> 48 for 3x3 without padding; 50 + 2 - 2 = 50 with padding 1.
    assert_eq!(stack_shape("[1, 50, 50]", "conv2d(4, 3)"), vec![4, 48, 48]);
    assert_eq!(
        stack_shape("[1, 50, 50]", "conv2d(4, 3, padding: 1)"),
        vec![4, 50, 50]
    );
}

#[test]
fn padding_forms() {
    assert_eq!(
        stack_shape("[3, 32, 32]", "conv2d(8, 3, padding: same)"),
        vec![8, 32, 32]
    );
    assert_eq!(
        stack_shape("[3, 30, 30]", "conv2d(8, 3, stride: 2, padding: same)"),
        vec![8, 15, 15]
    );
    assert_eq!(
        stack_shape("[3, 30, 30]", "conv2d(8, kernel: [3, 5], padding: [1, 2])"),
        vec![8, 30, 30]
    );
    assert_eq!(
        stack_shape(
            "[3, 15, 15]",
            "conv2d(8, 4, stride: [2, 2], padding: [1, 2, 1, 2])"
        ),
        vec![8, 8, 8]
    );
}

#[test]
fn same_padding_is_recorded_per_side() {
    let m = model(&common::stack(
        "[3, 30, 30]",
        "conv2d(8, 3, stride: 2, padding: same)",
    ));
    let conv = m
        .nodes
        .iter()
        .find(|n| matches!(n.op, Op::Conv2d { .. }))
        .unwrap();
    let Op::Conv2d {
        padding,
        stride,
        kernel,
        ..
    } = conv.op
    else {
        unreachable!()
    };
    assert_eq!(padding, [0, 1, 0, 1]);
    assert_eq!(stride, [2, 2]);
    assert_eq!(kernel, [3, 3]);
}

#[test]
fn pooling_rounding_and_padding() {
    assert_eq!(
        stack_shape("[2, 13, 13]", "max_pool(2, round: ceil)"),
        vec![2, 7, 7]
    );
    assert_eq!(
        stack_shape("[2, 7, 7]", "avg_pool(3, stride: 2)"),
        vec![2, 3, 3]
    );
    assert_eq!(
        stack_shape("[2, 3, 3]", "l2_pool(2, stride: 1, padding: 1)"),
        vec![2, 4, 4]
    );
    assert_eq!(
        stack_shape("[2, 25, 25]", "max_pool([2, 2])"),
        vec![2, 12, 12]
    );
}

#[test]
fn flatten_reshape_dropout() {
    assert_eq!(stack_shape("[20, 12, 12]", "flatten"), vec![2880]);
    assert_eq!(stack_shape("[20, 12, 12]", "flatten()"), vec![2880]);
    assert_eq!(
        stack_shape("[784]", "reshape([1, 28, 28])"),
        vec![1, 28, 28]
    );
    assert_eq!(stack_shape("[2304]", "reshape([-1, 48])"), vec![48, 48]);
    assert_eq!(stack_shape("[30]", "dropout(0.5)"), vec![30]);
}

#[test]
fn book_parameter_counts() {
    // 20 maps of 5x5 on one channel: 20 * 26 = 520.
    assert_eq!(
        params(&model(&common::stack("[1, 28, 28]", "conv2d(20, 5)"))),
        520
    );
    // A dense layer of 30 on 784 inputs: 784 * 30 + 30 = 23,550.
    assert_eq!(params(&model(&common::stack("[784]", "dense(30)"))), 23_550);
    // 3x3 convolution from 32 to 64 maps: (3*3*32 + 1) * 64 = 18,496.
    assert_eq!(
        params(&model(&common::stack("[32, 10, 10]", "conv2d(64, 3)"))),
        18_496
    );
    // LeNet-5 with 6 same-padded maps: 61,706.
    let lenet = "conv2d(6, 5, padding: same, act: tanh)
        avg_pool(2)
        conv2d(16, 5, act: tanh)
        avg_pool(2)
        flatten
        dense(120, act: tanh)
        dense(84, act: tanh)
        dense(10, act: softmax)";
    assert_eq!(params(&model(&common::stack("[1, 28, 28]", lenet))), 61_706);
}

#[test]
fn layers_know_weight_shapes_and_fans() {
    let m = model(&common::stack(
        "[3, 8, 8]",
        "conv2d(4, [3, 5]) flatten dense(7)",
    ));
    let conv = &m.layers[0];
    // A weight, then a bias: the order of the tensors and of checkpoints.
    let names: Vec<&str> = conv.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["weight", "bias"]);
    let (weight, bias) = (&conv.params[0], &conv.params[1]);
    assert_eq!(weight.shape, vec![4, 3, 3, 5]);
    assert_eq!(bias.shape, vec![4]);
    assert_eq!((conv.fan_in, conv.fan_out), (3 * 3 * 5, 4 * 3 * 5));
    assert_eq!(weight.init, Init::ScaledGaussian);
    assert_eq!(bias.init, Init::Gaussian { std: 1.0 });
    // Weights are decayed, biases not; both are trained.
    assert_eq!(
        (weight.role, weight.decay, weight.trained),
        (ParamRole::Weight, true, true)
    );
    assert_eq!(
        (bias.role, bias.decay, bias.trained),
        (ParamRole::Bias, false, true)
    );
    assert_eq!(conv.param_count(), 4 * 3 * 3 * 5 + 4);
    assert_eq!(conv.trained_param_count(), conv.param_count());
    let dense = &m.layers[1];
    // [4, 6, 4] flattened is 96 inputs.
    assert_eq!(dense.param("weight").map(|p| &p.shape), Some(&vec![7, 96]));
    assert_eq!(dense.param("bias").map(|p| &p.shape), Some(&vec![7]));
    assert_eq!(dense.param_index("bias"), Some(1));
    assert_eq!((dense.fan_in, dense.fan_out), (96, 7));
}

#[test]
fn the_summary_counts_every_declared_parameter() {
    let mut m = model(&common::stack("[3]", "dense(2) dense(1)"));
    let before = nnc_check::summary::summarize(&m);
    assert_eq!(before.total_params, (3 + 1) * 2 + (2 + 1));
    // State that is not trained counts too (as Keras's totals do).
    m.layers[0].params.push(Param {
        name: "running_mean".to_string(),
        role: ParamRole::Statistic,
        shape: vec![3],
        init: Init::Zeros,
        decay: false,
        trained: false,
    });
    assert_eq!(m.layers[0].param_count(), 8 + 3);
    assert_eq!(m.layers[0].trained_param_count(), 8);
    let after = nnc_check::summary::summarize(&m);
    assert_eq!(after.total_params, before.total_params + 3);
    assert_eq!(after.rows[1].params, 8 + 3);
}

#[test]
fn values_initialisers_are_row_major() {
    let m = model(&common::stack(
        "[3]",
        "dense(2, init: values([[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]]), bias_init: values([0, 1]))",
    ));
    let layer = &m.layers[0];
    assert_eq!(
        layer.param("weight").map(|p| &p.init),
        Some(&Init::Values(vec![0.1, 0.2, 0.3, -0.1, -0.2, -0.3]))
    );
    assert_eq!(
        layer.param("bias").map(|p| &p.init),
        Some(&Init::Values(vec![0.0, 1.0]))
    );
}

#[test]
fn nodes_are_in_topological_order() {
    let m = model(
        "model m {
           input a: [4]
           input b: [4]
           let h = a |> dense(4)
           let g = dense(b, 4)
           output y = relu(h + 2 * g) |> dense(1)
         }",
    );
    for (i, node) in m.nodes.iter().enumerate() {
        for input in &node.inputs {
            assert!(input.0 < i, "node {} reads a later node", node.name);
        }
    }
    let names: Vec<&str> = m.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "h", "g", "scale", "add", "relu", "y"]);
}

#[test]
fn shared_layers_share_parameters() {
    let m = model(
        "model m {
           input a: [20]
           input b: [20]
           layer proj = dense(8)
           output y = proj(a) + (b |> proj)
         }",
    );
    assert_eq!(m.layers.len(), 1);
    assert_eq!(m.layers[0].name, "proj");
    let users: Vec<_> = m
        .nodes
        .iter()
        .filter_map(|n| match n.op {
            Op::Dense { layer, .. } => Some(layer),
            _ => None,
        })
        .collect();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0], users[1]);
}

#[test]
fn block_instantiations_get_fresh_weights_and_scoped_names() {
    let m = model(
        "block conv_pool(maps, kernel = 5) {
           conv2d(maps, kernel: kernel, act: relu)
           max_pool(2)
         }
         model m {
           input image: [1, 28, 28]
           layers {
             conv_pool(20) -> [20, 12, 12]
             conv_pool(maps: 40, kernel: 5) -> [40, 4, 4]
             flatten
             dense(10, act: softmax)
           }
         }",
    );
    assert_eq!(m.layers.len(), 3);
    let names: Vec<&str> = m.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "image",
            "conv_pool_1.conv2d",
            "conv_pool_1.max_pool",
            "conv_pool_2.conv2d",
            "conv_pool_2.max_pool",
            "flatten",
            "dense"
        ]
    );
}

#[test]
fn dataflow_blocks_take_tensor_arguments() {
    let m = model(
        "block merge(units) {
           input a
           input b
           output y = dense(a, units) + dense(b, units)
         }
         model m {
           input p: [3]
           input q: [5]
           output out = merge(p, q, 4)
         }",
    );
    let (_, id) = m.outputs[0];
    assert_eq!(m.node(id).shape, vec![4]);
}

#[test]
fn composed_layer_values() {
    // A pipe of layers is a layer; `layers { ... }` is one too.
    let m = model(
        "model m {
           input x: [8]
           layer twice = dense(8, act: relu) |> dense(8)
           let y = x |> twice |> twice
           output z = y |> layers { dense(4) relu }
         }",
    );
    // Two parameter sets for the instance, one for the stack's dense.
    assert_eq!(m.layers.len(), 3);
}

/// The recurrent builtins: their output shapes and their parameter counts,
/// the usual formulas (`u` units, `f` input features, per layer and
/// direction): RNN `u (f + u) + u`, LSTM `4 (u (f + u) + u)`, GRU
/// `3 (u (f + u) + 2 u)` (two biases, as PyTorch and Keras count them).
#[test]
fn recurrent_layers_have_the_usual_shapes_and_parameter_counts() {
    let count = |layer: &str| params(&model(&common::stack("[28, 28]", layer)));
    let (u, f) = (128, 28);
    assert_eq!(count("lstm(128)"), 4 * (u * (f + u) + u));
    assert_eq!(count("rnn(128)"), u * (f + u) + u);
    assert_eq!(count("gru(128)"), 3 * (u * (f + u) + 2 * u));
    // A second layer reads the first's states; a backward direction has
    // its own weights and doubles the next layer's inputs.
    assert_eq!(
        count("lstm(128, layers: 2)"),
        4 * (u * (f + u) + u) + 4 * (u * (u + u) + u)
    );
    assert_eq!(
        count("gru(64, layers: 2, bidirectional: true)"),
        2 * 3 * (64 * (f + 64) + 2 * 64) + 2 * 3 * (64 * (128 + 64) + 2 * 64)
    );
    assert_eq!(stack_shape("[28, 28]", "lstm(128)"), vec![28, 128]);
    assert_eq!(
        stack_shape("[28, 28]", "lstm(128, return: last)"),
        vec![128]
    );
    assert_eq!(
        stack_shape("[28, 28]", "gru(32, bidirectional: true)"),
        vec![28, 64]
    );
    // Per step: an embedding of indices, a dense layer and a softmax.
    assert_eq!(
        stack_shape("[100]", "embed(65, 16) rnn(32) dense(65, act: softmax)"),
        vec![100, 65]
    );
    assert_eq!(count("lstm(128, forget_bias: 1.0)"), 4 * (u * (f + u) + u));
}

/// An LSTM cell written as a block and unrolled has the parameters of the
/// builtin (four gates on `[x, h]`, one bias each), and `unroll` gives the
/// state of every step or of the last.
#[test]
fn an_unrolled_block_cell_has_the_builtins_parameters() {
    let source = common::repo_file("models/recurrent_cells.nnet");
    let program = common::program(&source);
    let lstm = program.model("lstm_rows").expect("lstm_rows");
    let builtin = model(&common::stack(
        "[28, 28]",
        "lstm(128, return: last) dense(10)",
    ));
    assert_eq!(params(lstm), params(&builtin));
    let all = model(
        "block cell(units) {
           input x
           input h: [units]
           output h_next = dense(concat(x, h), units, act: tanh)
         }
         model m {
           input x: [7, 3]
           output y = unroll(cell(5), x)
         }",
    );
    let (_, id) = all.outputs[0];
    assert_eq!(all.node(id).shape, vec![7, 5]);
    assert_eq!(params(&all), 5 * (3 + 5) + 5);
}
