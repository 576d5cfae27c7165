//! Comments are collected with their spans, in source order; comment
//! markers inside strings are not comments.

use super::parse_clean;

fn comment_texts(source: &str) -> Vec<String> {
    parse_clean(source)
        .comments
        .into_iter()
        .map(|c| c.text)
        .collect()
}

#[test]
fn line_and_block_comments_are_collected_in_order() {
    let source =
        "// head\nmodel /* inline */ m { // tail\n  input x: [1] /* multi\n line */\n}\n// last";
    assert_eq!(
        comment_texts(source),
        vec![
            "// head",
            "/* inline */",
            "// tail",
            "/* multi\n line */",
            "// last"
        ]
    );
}

#[test]
fn comment_markers_inside_strings_are_text() {
    let source = r#"data d { train idx("a//b/*c*/.gz", labels: "\"//x") // real
}"#;
    assert_eq!(comment_texts(source), vec!["// real"]);
}

#[test]
fn comment_spans_cover_their_text() {
    let source = "const A = 1 /* x */ // y";
    let file = parse_clean(source);
    for comment in &file.comments {
        assert_eq!(&source[comment.span.start..comment.span.end], comment.text);
    }
    assert_eq!(file.comments[0].span.start, 12);
}

#[test]
fn comments_may_sit_between_any_tokens() {
    let source = "model /*a*/ m /*b*/ { /*c*/ input /*d*/ x /*e*/ : /*f*/ [ /*g*/ 1 /*h*/ ] layers { dense( /*i*/ 3 /*j*/ , /*k*/ act /*l*/ : relu) } }";
    assert_eq!(comment_texts(source).len(), 12);
}

#[test]
fn a_block_comment_does_not_nest() {
    // The first `*/` ends the comment, as the grammar says.
    let source = "/* a /* b */ const A = 1";
    assert_eq!(comment_texts(source), vec!["/* a /* b */"]);
}
