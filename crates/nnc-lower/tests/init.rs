//! Parameter initialisation: order, exact values, determinism, independence
//! of layers, and the distribution of each initialiser.

use nnc_check::program::Model;
use nnc_lower::{init_params, param_specs};

fn model(source: &str) -> Model {
    let (file, _) = nnc_syntax::parse(source);
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    checked.program.models.into_iter().next().unwrap()
}

fn std_dev(values: &[f32]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    (values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

#[test]
fn parameters_come_per_layer_weight_then_bias() {
    let m = model(
        "model m {
           input image: [1, 6, 6]
           layers { conv2d(4, kernel: 3) flatten dense(5) }
         }",
    );
    let params = init_params(&m, 1);
    let shapes: Vec<Vec<usize>> = params.iter().map(|p| p.shape.clone()).collect();
    assert_eq!(
        shapes,
        vec![vec![4, 1, 3, 3], vec![4], vec![5, 64], vec![5]]
    );
    let names: Vec<String> = param_specs(&m).into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        ["conv2d.weight", "conv2d.bias", "dense.weight", "dense.bias"]
    );
    for p in &params {
        assert_eq!(p.data.len(), p.shape.iter().product::<usize>());
    }
}

#[test]
fn explicit_values_zeros_and_constants_are_exact() {
    let m = model(
        "model m {
           input x: [2]
           layers {
             dense(2, init: values([[1.0, 1.0], [0.5, 0.5]]), bias_init: values([0.19, -0.622]))
             dense(3, init: zeros, bias_init: constant(0.1))
           }
         }",
    );
    let params = init_params(&m, 9);
    assert_eq!(params[0].data, vec![1.0, 1.0, 0.5, 0.5]);
    assert_eq!(params[1].data, vec![0.19, -0.622]);
    assert_eq!(params[2].data, vec![0.0; 6]);
    assert_eq!(params[3].data, vec![0.1; 3]);
}

#[test]
fn a_seed_reproduces_and_layers_draw_independently() {
    let a = model("model m { input x: [50] layers { dense(30) dense(10) } }");
    let b = model("model m { input x: [50] layers { dense(30) dense(5) } }");
    assert_eq!(init_params(&a, 4), init_params(&a, 4));
    assert_ne!(init_params(&a, 4), init_params(&a, 5));
    // Another size for the second layer leaves the first layer's values.
    assert_eq!(init_params(&a, 4)[..2], init_params(&b, 4)[..2]);
}

#[test]
fn each_initialiser_has_its_distribution() {
    let m = model(
        "model m {
           input x: [400]
           layers {
             dense(100)
             dense(100, init: he, bias_init: zeros)
             dense(100, init: xavier, bias_init: gaussian(0.5))
             dense(100, init: gaussian(2.0))
             dense(100, init: scaled_uniform, bias_init: scaled_uniform)
           }
         }",
    );
    let params = init_params(&m, 1);
    let close = |got: f64, want: f64| (got / want - 1.0).abs() < 0.05;
    // scaled_gaussian: std 1/sqrt(400).
    assert!(
        close(std_dev(&params[0].data), 0.05),
        "{}",
        std_dev(&params[0].data)
    );
    // he: std sqrt(2/100) (the second layer's fan-in is 100).
    assert!(close(std_dev(&params[2].data), (2.0f64 / 100.0).sqrt()));
    // xavier: uniform on [-l, l], l = sqrt(6 / 200), std l / sqrt(3).
    let limit = (6.0f64 / 200.0).sqrt();
    assert!(params[4].data.iter().all(|&w| (w as f64).abs() <= limit));
    assert!(close(std_dev(&params[4].data), limit / 3f64.sqrt()));
    assert!(close(std_dev(&params[6].data), 2.0));
    // 100 biases of gaussian(0.5): a looser bound for the smaller sample.
    assert!((std_dev(&params[5].data) / 0.5 - 1.0).abs() < 0.2);
    assert_eq!(params[3].data, vec![0.0; 100]);
    // scaled_uniform (PyTorch's nn.Linear): uniform on [-l, l],
    // l = 1/sqrt(100), for the weights and the biases alike.
    let limit = 0.1;
    for p in &params[8..10] {
        assert!(p.data.iter().all(|&w| (w as f64).abs() <= limit));
        assert!(p.data.iter().any(|&w| (w as f64).abs() > 0.9 * limit));
    }
    assert!(close(std_dev(&params[8].data), limit / 3f64.sqrt()));
}
