//! The canonical style, rule by rule, on small examples.

use super::check_invariants;

/// Formats `source` and compares with `expected` (both given without their
/// common indentation, for readability).
#[track_caller]
fn assert_formats(source: &str, expected: &str) {
    let got = check_invariants("example", &dedent(source));
    assert_eq!(got, dedent(expected), "\n--- got:\n{got}");
}

/// Removes the indentation common to the non-blank lines of `text` and its
/// first line break, and ends it with exactly one newline.
fn dedent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect();
    let joined = lines.join("\n");
    let trimmed = joined.trim_end();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    }
}

#[test]
fn empty_files_stay_empty() {
    assert_eq!(crate::format("").as_deref(), Ok(""));
    assert_eq!(crate::format("  \n\n\t").as_deref(), Ok(""));
}

#[test]
fn items_are_separated_by_one_blank_line_and_consts_may_stay_together() {
    assert_formats(
        "
        const A = 1
        const B = 2

        const C = 3
        model m {input x: [1] layers {dense(1)}}


        data d {}
        ",
        "
        const A = 1
        const B = 2

        const C = 3

        model m {
          input x: [1]
          layers {
            dense(1)
          }
        }

        data d {}
        ",
    );
}

#[test]
fn settings_take_one_space_and_blank_lines_are_kept_once() {
    assert_formats(
        "
        train m on d {

          optimizer      sgd
          learning_rate  0.1


          batch_size     10
          early_stop( metric : validation_accuracy , patience : 10 )

        }
        ",
        "
        train m on d {
          optimizer sgd
          learning_rate 0.1

          batch_size 10
          early_stop(metric: validation_accuracy, patience: 10)
        }
        ",
    );
}

#[test]
fn operators_lists_and_literals() {
    assert_formats(
        r#"
        const A = -(1+2)*3 - -4/(5)
        const B = [1,28 , 28,]
        const C = 50_000
        const D = 1E-8
        const E = "say \"hi\"\n\\"
        const F = "C:\data"
        model m { input x:[784] let y = x[1..2] let z = x|>dense(3)->[3] output y }
        "#,
        r#"
        const A = -(1 + 2) * 3 - -4 / (5)
        const B = [1, 28, 28]
        const C = 50_000
        const D = 1E-8
        const E = "say \"hi\"\n\\"
        const F = "C:\\data"

        model m {
          input x: [784]
          let y = x[1..2]
          let z = x |> dense(3) -> [3]
          output y
        }
        "#,
    );
}

#[test]
fn layers_are_one_per_line_even_as_a_value() {
    assert_formats(
        "
        block b() { conv2d(20, kernel: 5) max_pool(2) }
        model m { input x: [1, 28, 28] let f = x |> layers { b() flatten } output y = f }
        ",
        "
        block b() {
          conv2d(20, kernel: 5)
          max_pool(2)
        }

        model m {
          input x: [1, 28, 28]
          let f = x
              |> layers {
                b()
                flatten
              }
          output y = f
        }
        ",
    );
}

#[test]
fn short_at_bodies_with_one_setting_stay_on_one_line() {
    assert_formats(
        "
        train m on d {
          at epoch 31 {
            learning_rate 1.0
          }
          at epoch 32 { learning_rate 1.0 batch_size 20 }
          at epoch 33 {}
        }
        ",
        "
        train m on d {
          at epoch 31 { learning_rate 1.0 }
          at epoch 32 {
            learning_rate 1.0
            batch_size 20
          }
          at epoch 33 {}
        }
        ",
    );
}

#[test]
fn long_pipes_break_before_each_stage() {
    assert_formats(
        "
        block residual(channels) {
          input x
          let h = x |> conv2d(channels, kernel: 3, padding: same, act: relu) |> conv2d(channels, kernel: 3, padding: same)
          output y = relu(x + h)
        }
        ",
        "
        block residual(channels) {
          input x
          let h = x
              |> conv2d(channels, kernel: 3, padding: same, act: relu)
              |> conv2d(channels, kernel: 3, padding: same)
          output y = relu(x + h)
        }
        ",
    );
}

#[test]
fn long_argument_lists_break_one_per_line() {
    assert_formats(
        r#"
        data mnist {
          let train_file = idx("../data/mnist/train-images-idx3-ubyte.gz", labels: "../data/mnist/train-labels-idx1-ubyte.gz")
        }
        "#,
        r#"
        data mnist {
          let train_file = idx(
            "../data/mnist/train-images-idx3-ubyte.gz",
            labels: "../data/mnist/train-labels-idx1-ubyte.gz",
          )
        }
        "#,
    );
}

#[test]
fn matrices_are_one_row_per_line() {
    assert_formats(
        "
        model m { input x: [2] layers { dense(2, init: values([[1.0, 1.0], [0.5, 0.5]])) } }
        ",
        "
        model m {
          input x: [2]
          layers {
            dense(
              2,
              init: values([
                [1.0, 1.0],
                [0.5, 0.5],
              ]),
            )
          }
        }
        ",
    );
}

#[test]
fn comments_keep_their_lines() {
    assert_formats(
        "
        // header

        model m { // opens
          input x: [784]   // trailing
          /* inline */ cost quadratic

          // before the end
        }
        ",
        "
        // header

        model m {  // opens
          input x: [784]  // trailing
          /* inline */ cost quadratic

          // before the end
        }
        ",
    );
}

#[test]
fn comments_between_arguments_stay_there() {
    assert_formats(
        "
        model m {
          layers {
            dense(30, // units
                  act: sigmoid /* act */, init: /* why */ he)
          }
        }
        ",
        "
        model m {
          layers {
            dense(
              30,  // units
              act: sigmoid /* act */,
              init: /* why */ he,
            )
          }
        }
        ",
    );
}

#[test]
fn comments_between_pipe_stages_stay_there() {
    assert_formats(
        "
        model m {
          input x: [2]
          output y = x // first
            |> dense(3)
            // second
            |> dense(4)
        }
        ",
        "
        model m {
          input x: [2]
          output y = x  // first
              |> dense(3)
              // second
              |> dense(4)
        }
        ",
    );
}

#[test]
fn comments_inside_expressions_move_before_the_statement() {
    assert_formats(
        "
        model m {
          input x: [2]
          let k = x + // why
            x  // after
        }
        ",
        "
        model m {
          input x: [2]
          // why
          let k = x + x  // after
        }
        ",
    );
}

#[test]
fn files_with_syntax_errors_are_not_formatted() {
    let error = crate::format("model m {").expect_err("a syntax error");
    assert!(!error.errors.is_empty());
}

/// A tree printed with a text it was not parsed from gives odd output, but
/// never a panic.
#[test]
fn a_tree_with_the_wrong_text_does_not_panic() {
    let sources = super::all_sources();
    for (_, tree_source) in &sources {
        let (file, _) = nnc_syntax::parse(tree_source);
        for (_, text) in sources.iter().take(8) {
            let _ = crate::format_file(&file, text);
            let _ = crate::format_file(&file, "");
        }
    }
}

#[test]
fn deep_nesting_and_long_files_format() {
    let deep = format!("const X = {}1{}\n", "[(".repeat(25), ")]".repeat(25));
    super::check_invariants("deep", &deep);
    let mut long = String::from("model m {\n  input x: [4]\n");
    for i in 0..2000 {
        long.push_str(&format!(
            "  let a{i} = x |> dense({i}) // c{i}\n  /* d{i} */\n"
        ));
    }
    long.push_str("}\n");
    super::check_invariants("long", &long);
}

#[test]
fn windows_line_ends_become_newlines() {
    let source =
        "// a\r\nmodel m {\r\n  input x: [2]  /* b \r\n c */\r\n\r\n  cost quadratic\r\n}\r\n";
    let got = super::check_invariants("crlf", source);
    assert_eq!(
        got,
        "// a\nmodel m {\n  input x: [2]  /* b\n c */\n\n  cost quadratic\n}\n"
    );
}
