//! The chapter 15 worked example: the 2-2-1 network of
//! `models/xor_2_2_1.nnet`, with the book's weights, on the input (1, 1).

mod support;

use nnc_interp::Interpreter;
use nnc_ir::InputKind;
use nnc_lower::{compile_inference, init_params};

#[test]
fn forward_pass_gives_the_books_numbers() {
    let model = support::model(&support::repo_file("models/xor_2_2_1.nnet"));
    let graph = compile_inference(&model, 1, None).unwrap();
    let mut interp = Interpreter::<f32>::new(graph).unwrap();
    for (k, p) in init_params(&model, 0).iter().enumerate() {
        assert!(interp.set_input(InputKind::Param(k), &p.data).unwrap());
    }
    interp.set_input(InputKind::Data(0), &[1.0, 1.0]).unwrap();
    interp.set_input(InputKind::Target, &[0.0]).unwrap();
    interp.run(0);

    let round3 = |v: f32| (v * 1000.0).round() / 1000.0;
    let z1: Vec<f32> = interp
        .named("dense_1.z")
        .unwrap()
        .iter()
        .map(|&v| round3(v))
        .collect();
    assert_eq!(z1, vec![2.19, 0.378], "weighted inputs of the hidden layer");
    let hidden: Vec<f32> = interp
        .named("dense_1")
        .unwrap()
        .iter()
        .map(|&v| round3(v))
        .collect();
    assert_eq!(hidden, vec![0.899, 0.593], "hidden activations");
    let output = interp.output("prediction(output)").unwrap();
    assert_eq!(output.shape(), &[1, 1]);
    assert_eq!(round3(output[[0, 0]]), 0.506, "output activation");
}
