//! Every check-stage code in the situation its title names, and the facts
//! behind the key ones.

mod common;

use common::{codes, facts, stack};
use nnc_diag::check::{Axis, CheckError, RankNeed, ShapeProblem};

const TRAINED: &str = "
model m {
  input image: [784]
  layers { dense(30, act: sigmoid) dense(10, act: sigmoid) }
  cost cross_entropy
}
data d {
  let all = idx(\"a.gz\", labels: \"b.gz\")
  train all[..100]
  validation all[100..]
  labels one_hot(10)
}
";

/// A trained model with the given train body.
fn trained(body: &str) -> String {
    format!("{TRAINED}\ntrain m on d {{\n{body}\n}}\n")
}

const BASE_TRAIN: &str = "learning_rate 0.1\n batch_size 10\n epochs 30";

/// Asserts that `source` reports `code`.
fn expect(source: &str, code: &str) {
    let found = codes(source);
    assert!(
        found.contains(&code),
        "expected {code}, got {found:?}\n{source}"
    );
}

/// Asserts that `source` reports exactly `code`, once, and nothing else.
fn expect_only(source: &str, code: &str) {
    let found = codes(source);
    assert_eq!(found, [code], "{source}");
}

/// The errors (not warnings) of `source`.
fn error_facts(source: &str) -> Vec<CheckError> {
    facts(source)
        .into_iter()
        .filter(CheckError::is_error)
        .collect()
}

#[test]
fn clean_training_checks_clean() {
    assert!(codes(&trained(BASE_TRAIN)).is_empty());
}

#[test]
fn names_and_callees() {
    expect_only(&stack("[784]", "dense(HIDEN)"), "E0101");
    expect_only(&stack("[784]", "dens(30)"), "E0102");
    expect(
        "model m { input x: [4] input x: [4] output y = x }",
        "E0103",
    );
    expect(
        "const A = 1\nblock A() { relu }\nmodel m { input x: [1] layers { A } }",
        "E0103",
    );
    expect(&stack("[784]", "dense(30, activation: relu)"), "E0104");
    expect_only(&stack("[1, 28, 28]", "conv2d(20)"), "E0105");
    expect(&stack("[784]", "dropout(0.5, 0.2)"), "E0106");
    expect(&stack("[784]", "dense(30, units: 40)"), "E0107");
}

#[test]
fn did_you_mean() {
    let f = facts(&stack("[784]", "dense(30, act: sigmod)"));
    let [CheckError::UnknownOption { did_you_mean, .. }] = f.as_slice() else {
        panic!("{f:?}")
    };
    assert_eq!(did_you_mean, &["sigmoid"]);
    let f = facts(&stack("[784]", "dens(30)"));
    let [CheckError::UnknownCallee { did_you_mean, .. }] = f.as_slice() else {
        panic!("{f:?}")
    };
    assert_eq!(did_you_mean, &["dense"]);
    let f = error_facts("const HIDDEN = 3\nmodel m { input x: [4] layers { dense(HIDEN) } }");
    let [CheckError::UnknownName { did_you_mean, .. }] = f.as_slice() else {
        panic!("{f:?}")
    };
    assert_eq!(did_you_mean, &["HIDDEN"]);
}

#[test]
fn use_before_definition_points_at_the_definition() {
    let f = error_facts(
        "model m { input x: [4] let a = b |> dense(2) let b = x |> dense(4) output y = a }",
    );
    let [CheckError::UnknownName { defined_later, .. }] = f.as_slice() else {
        panic!("{f:?}")
    };
    assert!(defined_later.is_some());
}

#[test]
fn kinds_ranges_options() {
    expect(&stack("[784]", "dense(2.5)"), "E0108");
    expect(&stack("[784]", "dense(\"30\")"), "E0108");
    expect(&stack("[784]", "dense(30, act: 1)"), "E0108");
    expect(
        "model m { input x: [4] let f = dense(3) output y = x }",
        "E0108",
    );
    expect(&stack("[784]", "dense(0)"), "E0109");
    expect(&stack("[784]", "dropout(1.0)"), "E0109");
    expect(&stack("[1, 8, 8]", "max_pool(2, padding: 2)"), "E0109");
    expect(&stack("[1, 8, 8]", "conv2d(2, 3, padding: full)"), "E0110");
    expect(&stack("[1, 8, 8]", "max_pool(2, round: up)"), "E0110");
    expect(&stack("[8]", "dense(2, init: gaussian)"), "E0105");
    expect(&stack("[8]", "dense(2, init: gausian)"), "E0110");
    // A call of an unknown function is reported where it is evaluated.
    let f = facts(&stack("[8]", "dense(2, init: gausian(1.0))"));
    let [CheckError::UnknownCallee { did_you_mean, .. }] = f.as_slice() else {
        panic!("{f:?}")
    };
    assert_eq!(did_you_mean, &["gaussian"]);
}

#[test]
fn statements_and_settings() {
    expect(
        "model m { input x: [4] layers { relu } learning_rate 0.1 }",
        "E0112",
    );
    expect(
        "model m { input x: [4] layers { relu } costt quadratic }",
        "E0111",
    );
    expect("model m { input x: [4] dense(3) output y = x }", "E0112");
    expect(
        "data d { train idx(\"a\", labels: \"b\") layers { relu } }",
        "E0112",
    );
    expect(&trained(&format!("{BASE_TRAIN}\n epochs 3")), "E0117");
    expect(
        &trained(&format!("{BASE_TRAIN}\n at epoch 3 {{ epochs 4 }}")),
        "E0112",
    );
}

#[test]
fn recursion_and_model_structure() {
    expect(
        "block b(n) { dense(n) b(n) }\nmodel m { input x: [4] layers { b(2) } }",
        "E0113",
    );
    expect(
        "model m { input a: [4] input b: [4] layers { dense(2) } }",
        "E0114",
    );
    expect("model m { layers { dense(2) } }", "E0114");
    expect("model m { input a }\n", "E0114");
    expect("model m { input a: [4] }", "E0115");
    expect(
        "block b(n) { input x let h = x |> dense(n) }\nmodel m { input x: [4] layers { b(2) } }",
        "E0115",
    );
}

#[test]
fn constants() {
    expect(
        "const A = B + 1\nconst B = A * 2\nmodel m { input x: [A] output y = x }",
        "E0116",
    );
    expect("const Z = 0\nconst R = 1 / Z\nmodel m { input x: [4] layers { dense(2, init: gaussian(R)) } }", "E0116");
    expect(
        "const U = \"30\" * 2\nmodel m { input x: [4] layers { dense(U) } }",
        "E0116",
    );
    expect(
        "const U = 9223372036854775807 + 1\nmodel m { input x: [4] layers { dense(U) } }",
        "E0116",
    );
    // Exact integer division stays an integer; otherwise it is a float.
    assert!(codes("const N = 28 / 2\nmodel m { input x: [N] layers { dense(N) } }").is_empty());
    expect(
        "const N = 3 / 2\nmodel m { input x: [4] layers { dense(N) } }",
        "E0108",
    );
}

#[test]
fn dense_on_an_image() {
    let f = facts(&stack("[1, 28, 28]", "conv2d(20, 5) max_pool(2) dense(10)"));
    let [CheckError::DenseNeedsVector { input, size, .. }] = f.as_slice() else {
        panic!("{f:?}")
    };
    assert_eq!(input, &vec![20, 12, 12]);
    assert_eq!(*size, Some(2880));
    let d = f[0].to_diagnostic();
    assert!(d.hints.contains(
        &"insert `flatten` before this layer: the previous layer produces [20, 12, 12] = 2880 values".to_string()
    ));
}

#[test]
fn kernel_too_large_has_the_arithmetic() {
    let f = facts(&stack("[1, 28, 28]", "conv2d(4, 31)"));
    let [CheckError::KernelTooLarge { axes, .. }] = f.as_slice() else {
        panic!("{f:?}")
    };
    assert_eq!(axes.len(), 2);
    assert_eq!(axes[0].0, Axis::Height);
    assert_eq!(axes[0].1.output, -2);
    let d = f[0].to_diagnostic();
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("out = floor((28 + 0 + 0 - 31) / 1) + 1 = -2")),
        "{d:?}"
    );
    assert!(d.hints.iter().any(|h| h.contains("padding: same")));
    assert_eq!(d.secondary.len(), 1);
    expect(&stack("[4, 4, 4]", "max_pool(6)"), "E0204");
}

#[test]
fn assertions_rank_elementwise_reshape() {
    let f = facts(&stack("[1, 28, 28]", "conv2d(20, 5) -> [20, 28, 28]"));
    let [CheckError::AssertionFailed {
        expected, actual, ..
    }] = f.as_slice()
    else {
        panic!("{f:?}")
    };
    assert_eq!(
        (expected.clone(), actual.clone()),
        (vec![20, 28, 28], vec![20, 24, 24])
    );
    let d = f[0].to_diagnostic();
    assert!(
        d.notes
            .iter()
            .any(|n| n == "height: floor((28 + 0 + 0 - 5) / 1) + 1 = 24"),
        "{d:?}"
    );

    let f = facts(&stack("[784]", "conv2d(20, 5)"));
    assert!(
        matches!(
            f.as_slice(),
            [CheckError::WrongRank {
                need: RankNeed::Image,
                ..
            }]
        ),
        "{f:?}"
    );
    expect(
        "model m { input x: [4] let a = x |> dense(3) let b = x |> dense(2) output y = a + b }",
        "E0206",
    );
    expect(&stack("[784]", "reshape([10, 10])"), "E0207");
    expect(&stack("[784]", "reshape([-1, 5])"), "E0207");
    let f = facts(&stack("[784]", "reshape([-1, -1])"));
    assert!(
        matches!(
            f.as_slice(),
            [CheckError::InvalidShape {
                problem: ShapeProblem::SeveralInferred,
                ..
            }]
        ),
        "{f:?}"
    );
    expect("model m { input x: [28, 0] output y = x }", "E0209");
    expect("model m { input x: [] output y = x }", "E0209");
}

#[test]
fn values_must_match_the_parameter_shape() {
    let f = facts(&stack("[3]", "dense(2, init: values([[1, 2], [3, 4]]))"));
    let [CheckError::InvalidShape {
        problem: ShapeProblem::InitValues {
            expected, found, ..
        },
        ..
    }] = f.as_slice()
    else {
        panic!("{f:?}")
    };
    assert_eq!(expected, &vec![2, 3]);
    assert_eq!(found, &Some(vec![2, 2]));
    expect(
        &stack("[3]", "dense(1, init: values([[1, 2, 3], [4, 5]]))"),
        "E0209",
    );
}

#[test]
fn shared_layers_need_one_input_size() {
    expect(
        "model m { input a: [4] input b: [5] layer p = dense(2) output y = p(a) + p(b) }",
        "E0210",
    );
}

#[test]
fn one_hot_against_the_output() {
    let source = trained(BASE_TRAIN).replace("one_hot(10)", "one_hot(5)");
    let f = facts(&source);
    let [CheckError::ClassesMismatch {
        classes,
        output_size,
        ..
    }] = f.as_slice()
    else {
        panic!("{f:?}")
    };
    assert_eq!((*classes, *output_size), (5, 10));
}

#[test]
fn costs_and_output_activations() {
    expect(
        &stack("[4]", "dense(3, act: softmax)").replace("}\n}", "}\n cost cross_entropy\n}"),
        "E0301",
    );
    expect(
        &stack("[4]", "dense(3, act: sigmoid)").replace("}\n}", "}\n cost quadratic\n}"),
        "W0102",
    );
    expect(
        &stack("[4]", "dense(3, act: sigmoid)").replace("}\n}", "}\n cost log_likelihood\n}"),
        "W0104",
    );
    expect(
        &trained(BASE_TRAIN).replace("  cost cross_entropy\n", ""),
        "E0302",
    );
    expect(
        "model m { input x: [4] output a = x |> dense(2) output b = x |> dense(3) cost quadratic }",
        "E0105",
    );
    expect(
        "model m { input x: [4] output a = x |> dense(2) cost quadratic(c) }",
        "E0101",
    );
}

#[test]
fn training_settings() {
    expect(
        &trained(&format!(
            "{BASE_TRAIN}\n at epoch 31 {{ learning_rate 1.0 }}"
        )),
        "E0401",
    );
    expect(
        &trained(&format!(
            "{BASE_TRAIN}\n at epoch 0 {{ learning_rate 1.0 }}"
        )),
        "E0401",
    );
    expect(&trained("batch_size 10\n epochs 3"), "E0402");
    expect(
        &trained(BASE_TRAIN).replace("  train all[..100]\n", ""),
        "E0403",
    );
    expect(
        &trained(&format!(
            "{BASE_TRAIN}\n early_stop(metric: test_accuracy, patience: 3)"
        )),
        "E0403",
    );
    expect(
        &trained(&format!(
            "{BASE_TRAIN}\n at epoch 20 {{ batch_size 2 }}\n at epoch 10 {{ batch_size 4 }}"
        )),
        "E0404",
    );
    expect(&format!("{TRAINED}\nmodel n {{ input x: [1] output y = x }}\ntrain m, n on d {{ {BASE_TRAIN} }}"), "E0405");
    expect(
        &trained("optimizer momentum(1.5)\n learning_rate 0.1 batch_size 1 epochs 1"),
        "E0109",
    );
    expect(
        &trained("optimizer adma\n learning_rate 0.1 batch_size 1 epochs 1"),
        "E0110",
    );
    expect(
        &trained(BASE_TRAIN).replace("all[100..]", "all[100..50]"),
        "E0109",
    );
}

#[test]
fn lints() {
    let f = facts(&stack("[1, 28, 28]", "conv2d(8, 5, stride: 2)"));
    let [CheckError::StrideDropsPixels { axes, .. }] = f.as_slice() else {
        panic!("{f:?}")
    };
    assert_eq!(axes.len(), 2);
    assert_eq!(axes[0].2, 1);

    let f = facts(&stack("[784]", "dense(30, init: gaussian(1.0))"));
    let [CheckError::LargeInitStd {
        std,
        fan_in,
        bias_std,
        ..
    }] = f.as_slice()
    else {
        panic!("{f:?}")
    };
    assert_eq!((*std, *fan_in, *bias_std), (1.0, 784, Some(1.0)));
    // Small fan-in or a narrow gaussian: no warning.
    assert!(codes(&stack("[30]", "dense(10, init: gaussian(1.0))")).is_empty());
    assert!(codes(&stack("[784]", "dense(10, init: gaussian(0.1))")).is_empty());
    // The book's 1,000 inputs half on: sqrt(501) = 22.4.
    let f = facts(&stack("[1000]", "dense(30, init: gaussian(1.0))"));
    let d = f[0].to_diagnostic();
    assert!(d.notes.iter().any(|n| n.contains("= 22.4")), "{d:?}");

    expect(
        "model m { input x: [4] let h = x |> dense(2) output y = x }",
        "W0105",
    );
    expect(
        "model m { input x: [4] layer p = dense(2) output y = x }",
        "W0105",
    );
    expect(
        "const C = 3\nmodel m { input x: [4] output y = x }",
        "W0105",
    );
    expect(
        "block b() { relu }\nmodel m { input x: [4] output y = x }",
        "W0105",
    );
    // `_` names are exempt.
    assert!(
        codes("const _C = 3\nmodel m { input x: [4] let _h = x |> dense(2) output y = x }")
            .is_empty()
    );
}

#[test]
fn all_errors_of_a_file_are_reported_without_cascades() {
    let source = "model broken {
      input image: [1, 8, 8]
      let a = image |> dense(10)
      let b = image |> conv2d(4, 9)
      let c = image |> conv2d(4, 3) |> flatten
      let d = image |> flatten
      let e = c + d
      let f = d |> reshape([3, 3])
      let g = imagee |> dense(3) |> dense(4) |> relu
      output y = add(a, b) |> dense(4)
      output z = add(e, f)
      output w = g
    }";
    assert_eq!(codes(source), ["E0201", "E0203", "E0206", "E0207", "E0101"]);
}

#[test]
fn errors_inside_blocks_name_the_instantiation() {
    let source = "block residual(channels) {
      input x
      let h = x |> conv2d(channels, 3, padding: same)
      output y = relu(x + h)
    }
    model m { input image: [1, 28, 28] layers { residual(8) residual(8) } }";
    let checked = common::check(source);
    // Reported once, although both instantiations fail the same way.
    assert_eq!(checked.errors.len(), 1, "{:?}", checked.errors);
    let d = checked.errors[0].to_diagnostic();
    assert_eq!(d.code, "E0206");
    assert!(d
        .secondary
        .iter()
        .any(|l| l.message.contains("in this use of block `residual`")));
}

/// A slice bound is an index or a fraction in (0, 1); `text(...)` needs
/// its `context`.
#[test]
fn fractional_slice_bounds_and_text_sources() {
    let data = |train: &str| {
        format!(
            "data words {{
               let all = text(\"words.txt\", context: 8)
               train {train}
             }}"
        )
    };
    assert!(common::codes(&data("all[..0.9]")).is_empty());
    assert!(common::codes(&data("all[0.25..0.75]")).is_empty());
    assert_eq!(common::codes(&data("all[..1.5]")), vec!["E0109"]);
    assert_eq!(common::codes(&data("all[0.8..0.2]")), vec!["E0109"]);
    assert_eq!(
        common::codes("data words { train text(\"words.txt\") }"),
        vec!["E0105"]
    );
}
