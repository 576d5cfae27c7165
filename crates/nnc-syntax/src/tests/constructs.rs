//! Every construct of the language parses into the expected tree.

use super::{expr_sexp, model_body, parse_clean, sexp, stmt_sexp};
use crate::ast::*;

/// The example of the issue: every item kind, every statement kind.
const BOOK: &str = r#"// The book's [784, 30, 10] network, chapter 25.
const HIDDEN = 30
model mnist_mlp {
  input image: [784]
  layers {
    dense(HIDDEN, act: sigmoid, init: scaled_gaussian)
    dense(10, act: sigmoid) -> [10]
  }
  cost cross_entropy
  regularize l2(5.0)
}
block conv_pool(maps, kernel = 5) {
  conv2d(maps, kernel: kernel, act: relu)
  max_pool(2, round: ceil)
}
block residual(ch) {
  input x
  let h = x |> conv2d(ch, kernel: 3, padding: same, act: relu)
            |> conv2d(ch, kernel: 3, padding: same) -> [8, 28, 28]
  output y = relu(x + h)
}
model net {
  input x: [1, 28, 28]
  layer shared = dense(32, act: relu)
  let f = x |> layers { conv_pool(20) conv_pool(maps: 40) flatten }
  let a = shared(f)
  let b = f |> shared
  output digit = add(a, b) |> dense(10, act: softmax)
  cost log_likelihood(digit)
}
data mnist {
  let train_file = idx("../data/mnist/train-images-idx3-ubyte.gz", labels: "../data/mnist/train-labels-idx1-ubyte.gz")
  train train_file[..50_000]
  validation train_file[50000..]
  test idx("t.gz", labels: "l.gz")
  scale 1 / 255
  labels one_hot(10)
}
train mnist_mlp on mnist {
  optimizer momentum(0.9)
  learning_rate 0.1
  batch_size 10
  epochs 60
  at epoch 31 { learning_rate 1.0  batch_size 64 }
  decay on_plateau(metric: validation_accuracy, factor: 0.5, patience: 10, stop_below: 1 / 128)
  early_stop(metric: validation_accuracy, patience: 10)
}
train generator, discriminator on mnist {
  step discriminator { optimizer adam(lr: 2e-4, beta1: 0.5) }
}
"#;

fn stmts(stmts: &[Stmt]) -> Vec<String> {
    stmts.iter().map(stmt_sexp).collect()
}

#[test]
fn the_book_example_parses_into_every_item() {
    let file = parse_clean(BOOK);
    assert_eq!(file.items.len(), 8);
    assert_eq!(file.comments.len(), 1);
    let [Item::Const(hidden), Item::Model(mlp), Item::Block(conv_pool), Item::Block(residual), Item::Model(net), Item::Data(data), Item::Train(train), Item::Train(gan)] =
        file.items.as_slice()
    else {
        panic!("unexpected items: {:#?}", file.items);
    };

    assert_eq!(hidden.name.name, "HIDDEN");
    assert_eq!(sexp(&hidden.value), "30");

    assert_eq!(mlp.name.name, "mnist_mlp");
    assert_eq!(
        stmts(&mlp.body),
        vec![
            "(input image [784])",
            "(layers (call dense HIDDEN act:sigmoid init:scaled_gaussian) (-> (call dense 10 act:sigmoid) [10]))",
            "(set cost cross_entropy)",
            "(set regularize (call l2 5.0))",
        ]
    );

    assert_eq!(conv_pool.name.name, "conv_pool");
    let params: Vec<(String, Option<String>)> = conv_pool
        .params
        .iter()
        .map(|p| (p.name.name.clone(), p.default.as_ref().map(sexp)))
        .collect();
    assert_eq!(
        params,
        vec![("maps".into(), None), ("kernel".into(), Some("5".into()))]
    );
    let BlockBody::Layers(layers) = &conv_pool.body else {
        panic!("conv_pool is sequential");
    };
    let layers: Vec<String> = layers.iter().map(sexp).collect();
    assert_eq!(
        layers,
        vec![
            "(call conv2d maps kernel:kernel act:relu)",
            "(call max_pool 2 round:ceil)"
        ]
    );

    let BlockBody::Dataflow(body) = &residual.body else {
        panic!("residual is dataflow");
    };
    assert_eq!(
        stmts(body),
        vec![
            "(input x _)",
            "(let h (|> x (call conv2d ch kernel:3 padding:same act:relu) \
             (-> (call conv2d ch kernel:3 padding:same) [8 28 28])))",
            "(output y (call relu (+ x h)))",
        ]
    );

    assert_eq!(
        stmts(&net.body),
        vec![
            "(input x [1 28 28])",
            "(layer shared (call dense 32 act:relu))",
            "(let f (|> x (layers (call conv_pool 20) (call conv_pool maps:40) flatten)))",
            "(let a (call shared f))",
            "(let b (|> f shared))",
            "(output digit (|> (call add a b) (call dense 10 act:softmax)))",
            "(set cost (call log_likelihood digit))",
        ]
    );

    assert_eq!(
        stmts(&data.body),
        vec![
            "(let train_file (call idx \"../data/mnist/train-images-idx3-ubyte.gz\" \
             labels:\"../data/mnist/train-labels-idx1-ubyte.gz\"))",
            "(set train (slice train_file _ 50000))",
            "(set validation (slice train_file 50000 _))",
            "(set test (call idx \"t.gz\" labels:\"l.gz\"))",
            "(set scale (/ 1 255))",
            "(set labels (call one_hot 10))",
        ]
    );

    let models: Vec<&str> = train.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(models, vec!["mnist_mlp"]);
    assert_eq!(train.data.name, "mnist");
    assert_eq!(
        stmts(&train.body),
        vec![
            "(set optimizer (call momentum 0.9))",
            "(set learning_rate 0.1)",
            "(set batch_size 10)",
            "(set epochs 60)",
            "(at 31 (set learning_rate 1.0) (set batch_size 64))",
            "(set decay (call on_plateau metric:validation_accuracy factor:0.5 patience:10 stop_below:(/ 1 128)))",
            "(set early_stop (metric:validation_accuracy patience:10))",
        ]
    );

    let models: Vec<&str> = gan.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(models, vec!["generator", "discriminator"]);
    assert_eq!(
        stmts(&gan.body),
        vec!["(section step discriminator (set optimizer (call adam lr:2e-4 beta1:0.5)))"]
    );
}

#[test]
fn item_spans_cover_keyword_to_brace() {
    let source = "const A = 1\n\nmodel m { input x: [1] }\n";
    let file = parse_clean(source);
    let spans: Vec<&str> = file
        .items
        .iter()
        .map(|i| &source[i.span().start..i.span().end])
        .collect();
    assert_eq!(spans, vec!["const A = 1", "model m { input x: [1] }"]);
}

#[test]
fn empty_and_comment_only_files_have_no_items() {
    for source in [
        "",
        "   \n\t\n",
        "// only a comment",
        "/* a */ /* b */\n// c\n",
    ] {
        let file = parse_clean(source);
        assert!(file.items.is_empty());
    }
}

#[test]
fn const_values() {
    assert_eq!(expr_sexp("30"), "30");
    assert_eq!(expr_sexp("[1, 28, 28]"), "[1 28 28]");
    assert_eq!(expr_sexp("[]"), "[]");
    assert_eq!(expr_sexp("[1, 2,]"), "[1 2]");
    assert_eq!(expr_sexp("\"a string\""), "\"a string\"");
    assert_eq!(expr_sexp("OTHER"), "OTHER");
    assert_eq!(expr_sexp("true"), "true");
    assert_eq!(expr_sexp("false"), "false");
    assert_eq!(expr_sexp("[[1, 2], [3, 4]]"), "[[1 2] [3 4]]");
}

#[test]
fn integers_allow_underscores() {
    assert_eq!(expr_sexp("50_000"), "50000");
    assert_eq!(expr_sexp("1_000_000"), "1000000");
    assert_eq!(expr_sexp("9223372036854775807"), "9223372036854775807");
}

#[test]
fn floats_keep_their_text() {
    let file = parse_clean("const A = 1e-8\nconst B = 5.0\nconst C = 0.1\nconst D = 2E+3");
    let floats: Vec<(f64, String)> = file
        .items
        .iter()
        .map(|item| match item {
            Item::Const(ConstItem {
                value:
                    Expr {
                        kind: ExprKind::Float { value, text },
                        ..
                    },
                ..
            }) => (*value, text.clone()),
            other => panic!("not a float: {other:#?}"),
        })
        .collect();
    assert_eq!(
        floats,
        vec![
            (1e-8, "1e-8".to_string()),
            (5.0, "5.0".to_string()),
            (0.1, "0.1".to_string()),
            (2000.0, "2E+3".to_string())
        ]
    );
}

#[test]
fn strings_resolve_escapes() {
    let file = parse_clean(r#"const S = "a\"b\\c\nd\te""#);
    let [Item::Const(c)] = file.items.as_slice() else {
        panic!("one const");
    };
    assert_eq!(c.value.kind, ExprKind::Str("a\"b\\c\nd\te".to_string()));
    assert_eq!(expr_sexp(r#""""#), "\"\"");
}

#[test]
fn arithmetic_precedence_and_associativity() {
    assert_eq!(expr_sexp("a - b - c"), "(- (- a b) c)");
    assert_eq!(expr_sexp("a / b / c"), "(/ (/ a b) c)");
    assert_eq!(expr_sexp("1 + 2 * 3"), "(+ 1 (* 2 3))");
    assert_eq!(expr_sexp("1 * 2 + 3"), "(+ (* 1 2) 3)");
    assert_eq!(expr_sexp("(1 + 2) * 3"), "(* (paren (+ 1 2)) 3)");
    assert_eq!(expr_sexp("-x"), "(neg x)");
    assert_eq!(expr_sexp("- -x"), "(neg (neg x))");
    assert_eq!(expr_sexp("-2 * 3"), "(* (neg 2) 3)");
    assert_eq!(expr_sexp("1 - -2"), "(- 1 (neg 2))");
    assert_eq!(expr_sexp("1 / 255"), "(/ 1 255)");
    assert_eq!(expr_sexp("2 * x"), "(* 2 x)");
}

#[test]
fn binary_spans_run_from_lhs_to_rhs() {
    let source = "const X = a - b - c";
    let file = parse_clean(source);
    let [Item::Const(c)] = file.items.as_slice() else {
        panic!("one const");
    };
    let ExprKind::Binary { lhs, .. } = &c.value.kind else {
        panic!("binary");
    };
    assert_eq!(&source[c.value.span.start..c.value.span.end], "a - b - c");
    assert_eq!(&source[lhs.span.start..lhs.span.end], "a - b");
}

#[test]
fn pipes_need_two_stages_and_bind_loosest() {
    assert_eq!(expr_sexp("x"), "x");
    assert_eq!(expr_sexp("x |> dense(30)"), "(|> x (call dense 30))");
    assert_eq!(
        expr_sexp("x |> dense(30) |> dense(10)"),
        "(|> x (call dense 30) (call dense 10))"
    );
    assert_eq!(expr_sexp("a + b |> relu"), "(|> (+ a b) relu)");
}

#[test]
fn shape_assertions_apply_to_one_stage() {
    assert_eq!(expr_sexp("dense(10) -> [10]"), "(-> (call dense 10) [10])");
    assert_eq!(
        expr_sexp("x |> conv2d(20, 5) -> [20, 24, 24] |> flatten"),
        "(|> x (-> (call conv2d 20 5) [20 24 24]) flatten)"
    );
    assert_eq!(expr_sexp("a + b -> [3]"), "(-> (+ a b) [3])");
}

#[test]
fn calls_and_arguments() {
    assert_eq!(expr_sexp("flatten()"), "(call flatten)");
    assert_eq!(expr_sexp("dense(30,)"), "(call dense 30)");
    assert_eq!(
        expr_sexp("dense(30, act: sigmoid, init: gaussian(1.0))"),
        "(call dense 30 act:sigmoid init:(call gaussian 1.0))"
    );
    assert_eq!(
        expr_sexp("reshape([-1, 10])"),
        "(call reshape [(neg 1) 10])"
    );
    assert_eq!(
        expr_sexp("conv2d(x, 20, kernel: [5, 5], padding: [1, 1, 2, 2])"),
        "(call conv2d x 20 kernel:[5 5] padding:[1 1 2 2])"
    );
    assert_eq!(
        expr_sexp("init(values([[1, 2], [3, 4]]))"),
        "(call init (call values [[1 2] [3 4]]))"
    );
    assert_eq!(
        expr_sexp("dense(\n  30,\n  act: relu\n)"),
        "(call dense 30 act:relu)"
    );
}

#[test]
fn a_let_may_unpack_several_names() {
    let body = model_body(
        "model m { input x: [2]\n let (mu, logvar) = encoder(x, 20)\n let (a,\n b,) = f(x) }",
    );
    assert_eq!(
        body[1..],
        [
            "(let (mu logvar) (call encoder x 20))",
            "(let (a b) (call f x))",
        ]
    );
}

#[test]
fn slices_have_optional_bounds() {
    assert_eq!(expr_sexp("f[0..50000]"), "(slice f 0 50000)");
    assert_eq!(expr_sexp("f[..50000]"), "(slice f _ 50000)");
    assert_eq!(expr_sexp("f[50000..]"), "(slice f 50000 _)");
    assert_eq!(expr_sexp("f[..]"), "(slice f _ _)");
    assert_eq!(expr_sexp("f[N * 2 .. N * 3]"), "(slice f (* N 2) (* N 3))");
}

#[test]
fn a_call_needs_its_paren_right_after_the_name() {
    // On a new line, `(x)` is a separate stage: `relu` is never called.
    let body = model_body("model m { input x: [2] layers { relu\n(x) } }");
    assert_eq!(body[1], "(layers relu (paren x))");
}

#[test]
fn a_space_before_a_call_paren_in_a_layer_list_is_an_error() {
    let source = "model m { input x: [2] layers { dense (30) } }\nmodel n { }";
    let (file, errors) = super::parse_checked(source);
    assert_eq!(file.items.len(), 1, "the broken model is dropped");
    let d = errors
        .first()
        .map(|e| e.to_diagnostic())
        .unwrap_or_else(|| panic!("an error"));
    assert_eq!(errors.len(), 1);
    assert_eq!(d.message, "unexpected `(`");
    assert_eq!(d.primary.span, nnc_diag::Span::new(38, 39));
    assert!(
        d.hints.iter().any(|h| h.contains("`dense(...`")),
        "{:?}",
        d.hints
    );
    let block = "block b() { reshape [1, 2] }";
    assert_eq!(super::one_error(block).secondary.len(), 1);
}

#[test]
fn layers_as_a_value() {
    assert_eq!(
        expr_sexp("x |> layers { conv2d(20, 5) max_pool(2) }"),
        "(|> x (layers (call conv2d 20 5) (call max_pool 2)))"
    );
    assert_eq!(expr_sexp("layers { }"), "(layers )");
}

#[test]
fn model_statements() {
    let body = model_body(
        "model m {
           input a: [1, 28, 28]
           input b: IMAGE
           let code = dense(a, 32)
           layer enc = dense(32, act: relu)
           let c = enc(code)
           output c
           output d = c |> dense(10)
           cost cross_entropy(d)
           regularize l2(5.0)
           regularize l1(0.1)
         }",
    );
    assert_eq!(
        body,
        vec![
            "(input a [1 28 28])",
            "(input b IMAGE)",
            "(let code (call dense a 32))",
            "(layer enc (call dense 32 act:relu))",
            "(let c (call enc code))",
            "(output c _)",
            "(output d (|> c (call dense 10)))",
            "(set cost (call cross_entropy d))",
            "(set regularize (call l2 5.0))",
            "(set regularize (call l1 0.1))",
        ]
    );
}

#[test]
fn layers_statement_items_are_stages() {
    let body = model_body(
        "model lenet5 {
           input image: [1, 28, 28]
           layers {
             conv2d(6, kernel: 5, padding: same, act: tanh) -> [6, 28, 28]
             avg_pool(2)                                    -> [6, 14, 14]
             flatten
             dropout(0.5)
             softmax
           }
         }",
    );
    assert_eq!(
        body[1],
        "(layers (-> (call conv2d 6 kernel:5 padding:same act:tanh) [6 28 28]) \
         (-> (call avg_pool 2) [6 14 14]) flatten (call dropout 0.5) softmax)"
    );
}

#[test]
fn settings_and_bare_calls() {
    let file = parse_clean(
        "train m on d {
           optimizer sgd
           seed 1
           early_stop(patience: 10)
           stop()
           label \"name\"
           flag true
         }",
    );
    let [Item::Train(train)] = file.items.as_slice() else {
        panic!("one train item");
    };
    assert_eq!(
        stmts(&train.body),
        vec![
            "(set optimizer sgd)",
            "(set seed 1)",
            "(set early_stop (patience:10))",
            "(set stop ())",
            "(set label \"name\")",
            "(set flag true)",
        ]
    );
    let Stmt::Setting(early_stop) = &train.body[2] else {
        panic!("a setting");
    };
    assert!(matches!(early_stop.value, SettingValue::Args(ref args) if args.len() == 1));
}

#[test]
fn setting_keys_may_be_item_keywords() {
    let file = parse_clean("data d { train f[..5] model x block y const z data w }");
    let [Item::Data(data)] = file.items.as_slice() else {
        panic!("one data item");
    };
    assert_eq!(
        stmts(&data.body),
        vec![
            "(set train (slice f _ 5))",
            "(set model x)",
            "(set block y)",
            "(set const z)",
            "(set data w)"
        ]
    );
}

#[test]
fn schedule_phases_nest() {
    let file = parse_clean(
        "train m on d {
           epochs 60
           at epoch 31 { learning_rate 1.0  batch_size 64 }
           at epoch 41 { optimizer adam(beta1: 0.9, beta2: 0.999, eps: 1e-8) }
         }",
    );
    let [Item::Train(train)] = file.items.as_slice() else {
        panic!("one train item");
    };
    assert_eq!(
        stmts(&train.body)[1..],
        [
            "(at 31 (set learning_rate 1.0) (set batch_size 64))",
            "(at 41 (set optimizer (call adam beta1:0.9 beta2:0.999 eps:1e-8)))"
        ]
    );
}

#[test]
fn block_bodies_are_dataflow_only_when_they_start_with_input() {
    let file = parse_clean(
        "block seq() { dense(3) }
         block empty() { }
         block flow(a, b = 2,) { input x input y: [3] output z = x + y }",
    );
    let bodies: Vec<&BlockBody> = file
        .items
        .iter()
        .map(|item| match item {
            Item::Block(b) => &b.body,
            other => panic!("not a block: {other:#?}"),
        })
        .collect();
    assert!(matches!(bodies[0], BlockBody::Layers(l) if l.len() == 1));
    assert!(matches!(bodies[1], BlockBody::Layers(l) if l.is_empty()));
    let BlockBody::Dataflow(flow) = bodies[2] else {
        panic!("flow is dataflow");
    };
    assert_eq!(
        stmts(flow),
        vec!["(input x _)", "(input y [3])", "(output z (+ x y))"]
    );
}

#[test]
fn keywords_are_words_only_as_whole_words() {
    // `layers_n`, `on_plateau`, `inputs`, `letter`, `at_rate` are names.
    let body = model_body(
        "model m { input inputs: [2] let letter = on_plateau(layers_n, at_rate) output data_out = letter }",
    );
    assert_eq!(
        body,
        vec![
            "(input inputs [2])",
            "(let letter (call on_plateau layers_n at_rate))",
            "(output data_out letter)"
        ]
    );
}

#[test]
fn items_may_share_a_line_and_come_in_any_order() {
    let file =
        parse_clean("train m on d { epochs 1 } model m { input x: [1] } const A = 1 data d { }");
    let kinds: Vec<&str> = file
        .items
        .iter()
        .map(|item| match item {
            Item::Const(_) => "const",
            Item::Block(_) => "block",
            Item::Model(_) => "model",
            Item::Data(_) => "data",
            Item::Train(_) => "train",
        })
        .collect();
    assert_eq!(kinds, vec!["train", "model", "const", "data"]);
}

/// Every `.nnet` file of the repository (models and passing fixtures)
/// parses without errors and with sane spans.
#[test]
fn repository_models_parse() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut count = 0;
    for dir in ["models", "tests/fixtures/ok", "examples"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "nnet") {
                let source = std::fs::read_to_string(&path).unwrap_or_default();
                let (_, errors) = super::parse_checked(&source);
                assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
                count += 1;
            }
        }
    }
    // The test is meaningful only when it found files; the repository has some.
    assert!(count > 0, "no .nnet files found under {}", root.display());
}
