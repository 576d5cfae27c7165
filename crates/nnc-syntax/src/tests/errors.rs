//! Syntax errors say in words what was expected and what was found, and
//! point at the offending token.

use super::{one_error, parse_checked};
use nnc_diag::syntax::{Cause, Expected, Found, SyntaxError};
use nnc_diag::Span;

#[test]
fn colon_instead_of_equals() {
    let d = one_error("const X : 5");
    assert_eq!(d.code, "E0001");
    assert_eq!(d.message, "expected `=`, found `:`");
    assert_eq!(d.primary.message, "expected `=` here");
    assert_eq!(d.primary.span, Span::new(8, 9));
    assert!(d.hints[0].contains("use `=`"), "{:?}", d.hints);
}

#[test]
fn equals_instead_of_colon_in_arguments() {
    let d = one_error("model m { input x: [1] layers { dense(3, act = relu) } }");
    assert_eq!(
        d.message,
        "expected `)`, `,`, `:` or an operator, found `=`"
    );
    assert_eq!(d.primary.span, Span::new(45, 46));
    assert!(d.hints[0].contains("named arguments"), "{:?}", d.hints);
}

#[test]
fn missing_equals_in_let() {
    let d = one_error("model m { let x 3 }");
    assert_eq!(d.message, "expected `=`, found `3`");
}

#[test]
fn input_shape_with_equals() {
    let d = one_error("model m {\n  input x = [784]\n}");
    assert!(
        d.message.starts_with("expected `:`, `}` or a statement"),
        "{}",
        d.message
    );
    assert!(d.message.ends_with("found `=`"), "{}", d.message);
}

#[test]
fn space_before_a_call_paren() {
    let source = "model m {\n  input x: [784]\n  let h = dense (x)\n}";
    let (_, errors) = parse_checked(source);
    let [SyntaxError::Unexpected { found, cause, .. }] = errors.as_slice() else {
        panic!("one unexpected token: {errors:#?}");
    };
    assert_eq!(*found, Found::Symbol("(".into()));
    assert!(
        matches!(cause, Some(Cause::SpaceBeforeBracket { name, bracket: '(', .. }) if name == "dense")
    );
    let d = errors[0].to_diagnostic();
    assert!(
        d.hints.iter().any(|h| h.contains("write `dense(...`")),
        "{:?}",
        d.hints
    );
}

#[test]
fn missing_name() {
    let d = one_error("model { }");
    assert_eq!(d.message, "expected a name, found `{`");
    let d = one_error("model");
    assert_eq!(d.message, "expected a name, found the end of the file");
    assert_eq!(d.primary.span, Span::new(5, 5));
}

#[test]
fn missing_on_in_train() {
    let d = one_error("train m mnist { }");
    assert_eq!(d.message, "expected `,` or `on`, found `mnist`");
    assert_eq!(d.primary.span, Span::new(8, 13));
}

#[test]
fn missing_epoch_keyword_and_value() {
    assert_eq!(
        one_error("train m on d { at 3 { } }").message,
        "expected `epoch`, found `3`"
    );
    assert_eq!(
        one_error("train m on d { at epoch { } }").message,
        "expected an expression, found `{`"
    );
}

#[test]
fn missing_expression() {
    assert_eq!(
        one_error("model m { let x = }").message,
        "expected an expression, found `}`"
    );
    assert_eq!(
        one_error("model m { cost }").message,
        "expected an expression, found `}`"
    );
    assert_eq!(
        one_error("const x = 1 +").message,
        "expected an expression, found the end of the file"
    );
    assert_eq!(
        one_error("model m { output y = x |> }").message,
        "expected an expression, found `}`"
    );
}

#[test]
fn unclosed_argument_list() {
    let d = one_error("model m { layers { dense(30 } }");
    assert_eq!(d.message, "expected `)`, `,` or an operator, found `}`");
}

#[test]
fn layer_lists_expect_layers() {
    let d = one_error("model m { layers { dense(30) ) } }");
    assert_eq!(d.message, "expected `}`, a layer or an operator, found `)`");
    let d = one_error("block b(x) { ) }");
    assert_eq!(d.message, "expected `}`, `input` or a layer, found `)`");
}

#[test]
fn statements_are_described() {
    let d = one_error("model m { ) }");
    assert_eq!(
        d.message,
        "expected `}` or a statement (`input`, `let`, `output`, `layer`, `layers`, a setting, ...), found `)`"
    );
}

#[test]
fn items_are_described() {
    let d = one_error("} model a {}");
    assert_eq!(
        d.message,
        "expected an item (`model`, `data`, `train`, `block` or `const`), found `}`"
    );
    let d = one_error("at epoch 3 {}");
    assert!(d.message.ends_with("found keyword `at`"), "{}", d.message);
}

#[test]
fn block_headers() {
    assert_eq!(one_error("block b { }").message, "expected `(`, found `{`");
    assert_eq!(
        one_error("block b(x { }").message,
        "expected `)`, `,` or `=`, found `{`"
    );
    assert_eq!(
        one_error("block b(1) { }").message,
        "expected `)` or a name, found `1`"
    );
}

#[test]
fn slices_need_a_range() {
    let d = one_error("data d { train f[1] }");
    assert_eq!(d.message, "expected `..` or an operator, found `]`");
}

#[test]
fn lists_and_calls() {
    assert_eq!(
        one_error("model m { let x = [1, 2 }").message,
        "expected `,`, `]` or an operator, found `}`"
    );
    assert_eq!(
        one_error("model m { let x = [1, 2,, 3] }").message,
        "expected `]` or an expression, found `,`"
    );
    assert_eq!(
        one_error("model m { cost f( }").message,
        "expected `)` or an argument, found `}`"
    );
}

#[test]
fn the_end_of_the_file_inside_braces_points_at_the_open_brace() {
    let source = "model a { input x: [784]\n  layers {\n    dense(30)";
    let (_, errors) = parse_checked(source);
    let [SyntaxError::Unexpected {
        found, cause, span, ..
    }] = errors.as_slice()
    else {
        panic!("one error: {errors:#?}");
    };
    assert_eq!(*found, Found::EndOfFile);
    assert_eq!(*span, Span::new(source.len(), source.len()));
    let open = source.find("layers {").map(|i| i + 7).unwrap_or(0);
    assert_eq!(
        *cause,
        Some(Cause::Unclosed {
            open: Span::new(open, open + 1),
            close: '}'
        })
    );
}

#[test]
fn expected_lists_are_deduplicated_and_ordered() {
    let (_, errors) = parse_checked("model m { let x = dense(30, act = relu) }");
    let [SyntaxError::Unexpected { expected, .. }] = errors.as_slice() else {
        panic!("one error: {errors:#?}");
    };
    assert_eq!(
        *expected,
        vec![
            Expected::Symbol(")".into()),
            Expected::Symbol(",".into()),
            Expected::Symbol(":".into()),
            Expected::Operator
        ]
    );
}

#[test]
fn unterminated_string() {
    let source = "data d { train idx(\"abc) }\n";
    let d = one_error(source);
    assert_eq!(d.message, "unterminated string");
    assert_eq!(d.primary.span, Span::new(19, 26));
}

#[test]
fn unterminated_block_comment() {
    let source = "model a { } /* open\nmodel b { }";
    let (file, errors) = parse_checked(source);
    assert_eq!(file.items.len(), 1);
    assert_eq!(
        errors,
        vec![SyntaxError::UnterminatedComment {
            span: Span::new(12, 14)
        }]
    );
    let source = "const x = 1 /* open";
    assert_eq!(one_error(source).message, "unterminated block comment");
    let source = "const x = 2 * /* open";
    assert_eq!(one_error(source).message, "unterminated block comment");
}

#[test]
fn integer_overflow_is_e0002_and_keeps_the_item() {
    let source = "train m on d { epochs 99_999_999_999_999_999_999 }";
    let (file, errors) = parse_checked(source);
    assert_eq!(file.items.len(), 1);
    assert_eq!(
        errors,
        vec![SyntaxError::NumberTooLarge {
            span: Span::new(22, 48),
            text: "99_999_999_999_999_999_999".into()
        }]
    );
    let d = errors[0].to_diagnostic();
    assert_eq!(d.code, "E0002");
    assert_eq!(
        d.message,
        "integer `99_999_999_999_999_999_999` is too large"
    );
    // One past i64::MAX overflows; i64::MAX itself does not.
    assert_eq!(parse_checked("const A = 9223372036854775808").1.len(), 1);
    assert!(parse_checked("const A = 9223372036854775807").1.is_empty());
}

#[test]
fn float_overflow_is_e0002() {
    let d = one_error("const A = 1e999");
    assert_eq!(d.code, "E0002");
    assert_eq!(d.message, "number `1e999` is too large");
}

#[test]
fn every_error_span_is_at_least_one_character_except_at_the_end() {
    let sources = [
        "const X : 5",
        "model m { ) }",
        "model m { input x: [1] layers { dense(3, act = relu) } }",
        "block b(x { }",
        "train m mnist { }",
        "model m {\n",
        "x",
        "model m { input x: [1] } é",
    ];
    for source in sources {
        let (_, errors) = parse_checked(source);
        assert!(!errors.is_empty(), "{source:?} has an error");
        for error in &errors {
            let span = error.span();
            assert!(
                !span.is_empty() || span.start == source.len(),
                "{source:?}: empty span {span:?} before the end"
            );
        }
    }
}
