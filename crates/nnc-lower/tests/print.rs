//! Snapshots of the text form after each pass, for a small model with a
//! convolution, pooling, dropout and L2 decay under momentum. Review
//! changes with `cargo insta review`.

use nnc_check::program::Optimizer;
use nnc_lower::backend::TrainSetup;
use nnc_lower::{compile_inference, compile_training, TRAINING_PASSES};

const SOURCE: &str = "
model small {
  input image: [1, 5, 5]
  layers {
    conv2d(2, kernel: 3, padding: 1, act: relu) -> [2, 5, 5]
    max_pool(2, round: ceil) -> [2, 3, 3]
    flatten
    dropout(0.5)
    dense(3, act: softmax)
  }
  cost log_likelihood
  regularize l2(5.0)
}
";

fn model() -> nnc_check::program::Model {
    let (file, _) = nnc_syntax::parse(SOURCE);
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    checked.program.models.into_iter().next().unwrap()
}

#[test]
fn training_graph_after_each_pass() {
    let model = model();
    let optimizer = Optimizer::Momentum { mu: 0.9 };
    let setup = TrainSetup {
        model: &model,
        optimizer: &optimizer,
        batch_size: 4,
        train_size: 1000,
        clip: Default::default(),
    };
    for pass in TRAINING_PASSES {
        let text = compile_training(&setup, 4, Some(pass)).unwrap().to_string();
        insta::assert_snapshot!(format!("training_after_{pass}"), text);
    }
}

#[test]
fn inference_graph() {
    let text = compile_inference(&model(), 4, None).unwrap().to_string();
    insta::assert_snapshot!("inference", text);
}
