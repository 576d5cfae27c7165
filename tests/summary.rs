//! `nnc summary` against the book's hand counts (chapters 40-46).

mod common;

use common::{read, root};
use nnc_check::summary::{summarize, Summary};
use nnc_cli::driver::{self, Options};

fn summaries(source: &str) -> Vec<Summary> {
    let report = driver::check_source(source, &root(), Options::default());
    let program = report
        .clean_program()
        .unwrap_or_else(|| panic!("source should check clean: {:?}", report.diagnostics));
    program.models.iter().map(summarize).collect()
}

fn one(source: &str) -> Summary {
    summaries(source).remove(0)
}

#[test]
fn twenty_5x5_maps_on_one_channel_have_520_parameters() {
    let s = one("model m {\n  input x: [1, 28, 28]\n  layers { conv2d(20, kernel: 5) -> [20, 24, 24] }\n}\n");
    assert_eq!(s.total_params, 520);
    assert_eq!(s.rows.last().unwrap().shape, vec![20, 24, 24]);
    // 2 * 5*5*1 multiply-adds per output value, plus the bias, over 20*24*24 values.
    assert_eq!(s.total_flops, (2 * 25 + 1) * 20 * 24 * 24);
}

#[test]
fn dense_784_to_30_has_23550_parameters() {
    let s = one("model m {\n  input x: [784]\n  layers { dense(30, act: sigmoid) }\n}\n");
    assert_eq!(s.total_params, 23_550);
    assert_eq!(s.total_flops, 2 * 784 * 30 + 30 + 30);
    assert_eq!(s.rows.last().unwrap().activation_bytes, 30 * 4);
}

#[test]
fn conv_3x3_from_32_to_64_maps_has_18496_parameters() {
    let s = one("model m {\n  input x: [32, 50, 50]\n  layers { conv2d(64, kernel: 3) -> [64, 48, 48] }\n}\n");
    assert_eq!(s.total_params, 18_496);
    let padded = one(
        "model m {\n  input x: [32, 50, 50]\n  layers { conv2d(64, kernel: 3, padding: 1) }\n}\n",
    );
    assert_eq!(padded.rows.last().unwrap().shape, vec![64, 50, 50]);
}

#[test]
fn padded_convolutions_and_clipped_pools_count_only_work_inside_the_input() {
    // 3x3 kernel, padding 1, on 4 channels of 5x5 -> 6 maps of 5x5. Along
    // each axis the taps inside the input number 2 + 3 + 3 + 3 + 2 = 13
    // (the border outputs lose one tap to the padding), so 13 * 13 taps
    // per plane, not 25 * 9 = 225.
    let s =
        one("model m {\n  input x: [4, 5, 5]\n  layers { conv2d(6, kernel: 3, padding: 1) }\n}\n");
    assert_eq!(s.rows.last().unwrap().shape, vec![6, 5, 5]);
    assert_eq!(s.total_flops, 2 * 13 * 13 * 4 * 6 + 6 * 5 * 5);
    // Without padding every tap is inside: 2 * 3*3 * 4 * 6 per output value
    // of 6x3x3, plus the bias.
    let s = one("model m {\n  input x: [4, 5, 5]\n  layers { conv2d(6, kernel: 3) }\n}\n");
    assert_eq!(s.total_flops, (2 * 9 * 4 + 1) * 6 * 3 * 3);
    // Stride 2 and uneven padding [top 1, bottom 0, left 0, right 2] on a
    // 6x7 plane, kernel 3 -> 3x4 outputs: rows start at -1, 1, 3 -> 2 + 3
    // + 3 = 8 taps; columns start at 0, 2, 4, 6 (the last over 6..9, two
    // taps in the padding) -> 3 + 3 + 3 + 1 = 10 taps.
    let s = one(
        "model m {\n  input x: [1, 6, 7]\n  layers { conv2d(2, kernel: 3, stride: 2, padding: [1, 0, 0, 2]) }\n}\n",
    );
    assert_eq!(s.rows.last().unwrap().shape, vec![2, 3, 4]);
    assert_eq!(s.total_flops, 2 * 8 * 10 * 2 + 2 * 3 * 4);
    // A 2x2 max pool with ceil rounding on 5x5: windows cover 2 + 2 + 1
    // rows and columns, 5 * 5 = 25 input values per channel (not 3*3*4).
    let s = one("model m {\n  input x: [3, 5, 5]\n  layers { max_pool(2, round: ceil) }\n}\n");
    assert_eq!(s.rows.last().unwrap().shape, vec![3, 3, 3]);
    assert_eq!(s.total_flops, 3 * 25);
}

#[test]
fn pooling_has_no_parameters_and_halves_the_maps() {
    let s = one("model m {\n  input x: [3, 24, 24]\n  layers { max_pool(2) }\n}\n");
    assert_eq!(s.total_params, 0);
    assert_eq!(s.rows.last().unwrap().shape, vec![3, 12, 12]);
}

#[test]
fn lenet5_has_61706_parameters() {
    let source = read(&root().join("models/lenet5.nnet"));
    let report = driver::check_source(&source, &root().join("models"), Options::default());
    let program = report.clean_program().expect("lenet5 checks clean");
    let s = summarize(&program.models[0]);
    assert_eq!(s.total_params, 61_706);
}

#[test]
fn chapter_43_net_counts() {
    // 28x28 -> conv 5x5, 3 maps -> 3x24x24 -> max-pool 2x2 -> 3x12x12 -> dense 10.
    let s = one(
        "model m {\n  input x: [1, 28, 28]\n  layers {\n    conv2d(3, kernel: 5, act: sigmoid)\n    max_pool(2)\n    flatten\n    dense(10, act: softmax)\n  }\n}\n",
    );
    let shapes: Vec<_> = s.rows.iter().map(|r| r.shape.clone()).collect();
    assert_eq!(
        shapes,
        vec![
            vec![1, 28, 28],
            vec![3, 24, 24],
            vec![3, 12, 12],
            vec![432],
            vec![10]
        ]
    );
    assert_eq!(s.total_params, (25 + 1) * 3 + (432 + 1) * 10);
}

#[test]
fn shared_layers_count_their_weights_once() {
    let s = one(
        "model m {\n  input a: [8]\n  input b: [8]\n  layer enc = dense(4)\n  let x = enc(a)\n  let y = b |> enc\n  output z = x + y\n}\n",
    );
    assert_eq!(s.total_params, (8 + 1) * 4);
}

/// `nnc summary` shows a model that checked clean even when the file's
/// train block has errors, prints those errors below and exits 1.
#[test]
fn summary_shows_a_clean_model_of_a_file_with_other_errors() {
    let dir = common::scratch("summary", "other-errors");
    let file = dir.join("net.nnet");
    std::fs::write(
        &file,
        "model mlp {\n  input image: [784]\n  layers { dense(30, act: relu) dense(10, act: softmax) }\n  \
         cost log_likelihood\n}\ntrain mlp on nowhere {\n  learning_rate 0.1\n  batch_size 10\n  \
         epochs 1\n}\n",
    )
    .unwrap();
    let out = common::nnc(&["summary", &file.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("model mlp\n"), "{stdout}");
    assert!(stdout.contains("23,860"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error[E0101]: unknown data block `nowhere`"),
        "{stderr}"
    );
    assert!(stderr.contains("outside the models summarised"), "{stderr}");
}

/// An unrolled cell shows its first step row by row and one line for the
/// other steps (and one for the reshapes that stack every step's output),
/// whose sums are those of the rows it stands for.
#[test]
fn unrolled_steps_are_one_line_after_the_first() {
    let s = one("block cell(units) {
           input x
           input h: [units]
           output h_next = dense(concat(x, h), units, act: tanh)
         }
         model m {
           input x: [5, 2]
           let hs = unroll(cell(3), x)
           output y = hs |> flatten |> dense(2, act: softmax)
           cost log_likelihood
         }");
    assert_eq!(s.repeats.len(), 2);
    let steps = &s.repeats[0];
    assert_eq!((steps.block.as_str(), steps.steps), ("cell", 5));
    // slice, reshape, concat, dense per step.
    assert_eq!(steps.per_step, 4);
    assert_eq!(s.rows[steps.first + 3].layer, "cell_1.h_next");
    let table = nnc_cli::summary_table::render(&s);
    let later: u64 = s.rows[steps.first + 4..steps.first + 20]
        .iter()
        .map(|r| r.flops)
        .sum();
    assert_eq!(later, 4 * 36);
    let line = table
        .lines()
        .find(|l| l.starts_with("steps 2..5"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains("4 x the step above") && line.contains(" 144 "),
        "{line}"
    );
    assert!(!table.contains("cell_2."), "{table}");
    assert_eq!(
        table
            .lines()
            .filter(|l| l.starts_with("steps 2..5"))
            .count(),
        2
    );
    // The totals count every step.
    assert!(table.lines().last().unwrap().contains(" 244 "), "{table}");
}
