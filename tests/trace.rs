//! `nnc run --trace grad-norms`: the learning speed of every layer (the
//! book's chapter 34) printed and logged at initialisation and after every
//! epoch, on the shipped MNIST.

mod common;

use common::{nnc, root};
use serde_json::Value;
use std::path::Path;

/// The book's [784, 30, 30, 10] (sigmoid, cross-entropy), trained by
/// full-batch gradient descent on the first 1,000 training images.
fn deep_net(dir: &Path, epochs: usize) -> String {
    let mnist = root().join("data/mnist");
    let file = |f: &str| mnist.join(f).display().to_string();
    let source = format!(
        r#"model deep {{
  input image: [784]
  layers {{
    dense(30, act: sigmoid)
    dense(30, act: sigmoid)
    dense(10, act: sigmoid)
  }}
  cost cross_entropy
}}

data mnist {{
  let train_file = idx("{images}", labels: "{labels}")
  train train_file[..1_000]
  validation train_file[50_000..50_500]
  scale 1 / 255
  labels one_hot(10)
}}

train deep on mnist {{
  optimizer sgd
  learning_rate 0.1
  batch_size 1000
  epochs {epochs}
}}
"#,
        images = file("train-images-idx3-ubyte.gz"),
        labels = file("train-labels-idx1-ubyte.gz"),
    );
    let path = dir.join("deep.nnet");
    std::fs::write(&path, source).unwrap();
    path.display().to_string()
}

/// The `bias` norms of a log record's `grad_norms`, in layer order, with
/// the layer names.
fn bias_norms(record: &Value) -> Vec<(String, f64)> {
    record["grad_norms"]
        .as_array()
        .unwrap_or_else(|| panic!("no grad_norms in {record}"))
        .iter()
        .map(|layer| {
            let name = layer["layer"].as_str().expect("a layer name").to_string();
            let bias = layer["bias"].as_f64().expect("a bias norm");
            assert!(layer["weight"].as_f64().expect("a weight norm") > 0.0);
            (name, bias)
        })
        .collect()
}

#[test]
fn the_first_hidden_layer_learns_several_times_slower_than_the_second() {
    let dir = common::scratch("trace", "deep");
    let model = deep_net(&dir, 4);
    let log = dir.join("run.jsonl");
    let log_arg = log.display().to_string();
    let out = nnc(&["run", &model, "--trace", "grad-norms", "--log", &log_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Printed: the initial values, then one line under every epoch.
    assert!(
        stdout.starts_with("initial learning speed |dC/db|: dense_1 0.0"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("learning speed |dC/db|").count(),
        5,
        "{stdout}"
    );
    let records: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Epoch 0 (initialisation) and epochs 1 to 4.
    let epochs: Vec<u64> = records
        .iter()
        .map(|r| r["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, [0, 1, 2, 3, 4]);
    for record in &records {
        let norms = bias_norms(record);
        let names: Vec<&str> = norms.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["dense_1", "dense_2", "dense_3"]);
        // The vanishing gradient: |dC/db| of the first hidden layer is
        // several times smaller than the second's (the book: 0.07 against
        // 0.31 at initialisation), and the second's than the output's.
        let (first, second, last) = (norms[0].1, norms[1].1, norms[2].1);
        assert!(second > 3.0 * first, "{record}");
        assert!(last > second, "{record}");
    }
    // At initialisation the values are the book's order of magnitude.
    let initial = bias_norms(&records[0]);
    assert!((0.02..0.3).contains(&initial[0].1), "{initial:?}");
    assert!((0.1..1.0).contains(&initial[1].1), "{initial:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
