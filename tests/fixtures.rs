//! Fixture tests: every file in `tests/fixtures/ok` parses and checks clean,
//! with its syntax tree and its shape table snapshotted; every file in
//! `tests/fixtures/err` produces the diagnostic its name starts with, with the
//! rendered diagnostics snapshotted; every diagnostic code has a fixture; the
//! shipped models check clean. Snapshots live in `tests/snapshots/` and are
//! reviewed with `cargo insta review`, never edited by hand.

mod common;

use common::{codes, nnet_files, read, root, stem};
use nnc_cli::driver::{self, Options};
use nnc_diag::{render, Span};
use serde_json::Value;

/// Replaces every `{"start": a, "end": b}` object by the string `"a..b"`, so
/// that snapshots of the syntax tree stay readable.
fn compact_spans(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            if map.len() == 2 {
                if let (Some(Value::Number(s)), Some(Value::Number(e))) =
                    (map.get("start"), map.get("end"))
                {
                    return Value::String(format!("{s}..{e}"));
                }
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, compact_spans(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(compact_spans).collect()),
        other => other,
    }
}

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
fn ok_fixtures_parse_check_clean_and_match_snapshots() {
    let files = nnet_files("tests/fixtures/ok");
    assert!(
        files.len() >= 15,
        "expected at least 15 ok fixtures, found {}",
        files.len()
    );
    for path in files {
        let source = read(&path);
        let name = stem(&path);
        let report = driver::check_source(&source, driver::base_dir(&path), Options::default());
        let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(
            errors.is_empty(),
            "{} should check clean:\n{}",
            path.display(),
            render::to_text(&report.diagnostics, &name, &source, false)
        );
        let (file, syntax_errors) = nnc_syntax::parse(&source);
        assert!(syntax_errors.is_empty());
        assert_spans_nested(
            &serde_json::to_value(&file).unwrap(),
            Span::new(0, source.len()),
            &name,
        );
        let ast = compact_spans(serde_json::to_value(&file.items).unwrap());
        let program = report.program.as_ref().expect("a program");
        let shapes: String = program
            .models
            .iter()
            .map(|m| nnc_cli::summary_table::render(&nnc_check::summary::summarize(m)))
            .collect::<Vec<_>>()
            .join("\n");
        settings().bind(|| {
            insta::assert_yaml_snapshot!(format!("ok__{name}__ast"), ast);
            insta::assert_snapshot!(format!("ok__{name}__shapes"), shapes);
        });
    }
}

/// Asserts that every span in the tree lies inside its parent's span and that
/// sibling spans appear in source order (as the parser promises).
fn assert_spans_nested(value: &Value, parent: Span, file: &str) {
    let span_of = |v: &Value| -> Option<Span> {
        let s = v.get("span")?;
        Some(Span::new(
            s.get("start")?.as_u64()? as usize,
            s.get("end")?.as_u64()? as usize,
        ))
    };
    match value {
        Value::Object(map) => {
            let own = span_of(value).unwrap_or(parent);
            assert!(
                parent.start <= own.start && own.end <= parent.end && own.start <= own.end,
                "{file}: span {own:?} escapes its parent {parent:?}"
            );
            for (key, child) in map {
                if key != "span" {
                    assert_spans_nested(child, own, file);
                }
            }
        }
        Value::Array(items) => {
            let mut last_start = parent.start;
            for item in items {
                if let Some(s) = span_of(item) {
                    assert!(
                        s.start >= last_start,
                        "{file}: siblings out of order at {s:?}"
                    );
                    last_start = s.start;
                }
                assert_spans_nested(item, parent, file);
            }
        }
        _ => {}
    }
}

#[test]
fn err_fixtures_report_their_code_and_match_snapshots() {
    let files = nnet_files("tests/fixtures/err");
    assert!(
        files.len() >= 45,
        "expected at least 45 err fixtures, found {}",
        files.len()
    );
    for path in files {
        let source = read(&path);
        let name = stem(&path);
        let expected = name.split('_').next().unwrap().to_string();
        let report = driver::check_source(
            &source,
            driver::base_dir(&path),
            Options { inspect_data: true },
        );
        let found = codes(&report);
        assert!(
            found.contains(&expected.as_str()),
            "{}: expected {expected}, got {found:?}:\n{}",
            path.display(),
            render::to_text(&report.diagnostics, &name, &source, false)
        );
        for d in &report.diagnostics {
            assert!(
                d.primary.span.end <= source.len(),
                "{name}: span past the end of the file"
            );
            assert!(
                nnc_diag::codes::title(d.code).is_some(),
                "{name}: unknown code {}",
                d.code
            );
            assert!(
                !d.message.ends_with('.'),
                "{name}: messages have no trailing period"
            );
        }
        // Notes name resolved paths; the checkout's location must not leak
        // into the snapshots.
        let rendered =
            render::to_text(&report.diagnostics, &format!("{name}.nnet"), &source, false)
                .replace(&root().display().to_string(), "<root>");
        settings().bind(|| insta::assert_snapshot!(format!("err__{name}"), rendered));
    }
}

#[test]
fn every_code_has_an_error_fixture() {
    let names: Vec<String> = nnet_files("tests/fixtures/err")
        .iter()
        .map(|p| stem(p))
        .collect();
    // A model file that cannot be read has no source to be a fixture: its
    // messages are tested from the command line (tests/cli.rs).
    let file_level = ["E0003"];
    for (code, title) in nnc_diag::codes::ALL {
        if file_level.contains(code) {
            continue;
        }
        assert!(
            names.iter().any(|n| n.starts_with(&format!("{code}_"))),
            "no fixture tests/fixtures/err/{code}_*.nnet for {code} ({title})"
        );
    }
}

#[test]
fn shipped_models_check_clean() {
    let mut count = 0;
    for folder in ["models", "examples"] {
        for path in nnet_files(folder) {
            count += 1;
            let source = read(&path);
            let report = driver::check_source(&source, driver::base_dir(&path), Options::default());
            let name = stem(&path);
            // The old-initialisation model exists to show the W0103 lint.
            let allowed: &[&str] = if name.contains("old_init") {
                &["W0103"]
            } else {
                &[]
            };
            let unexpected: Vec<_> = report
                .diagnostics
                .iter()
                .filter(|d| !allowed.contains(&d.code))
                .collect();
            assert!(
                unexpected.is_empty(),
                "{} should check clean:\n{}",
                path.display(),
                render::to_text(&report.diagnostics, &name, &source, false)
            );
        }
    }
    assert!(
        count >= 15,
        "expected the book's models, found {count} files"
    );
}

#[test]
fn shipped_mnist_models_check_clean_with_data() {
    for path in nnet_files("models") {
        let source = read(&path);
        if !source.contains("data/mnist/") {
            continue;
        }
        let report = driver::check_source(
            &source,
            driver::base_dir(&path),
            Options { inspect_data: true },
        );
        let data_codes: Vec<_> = codes(&report)
            .into_iter()
            .filter(|c| c.starts_with("E05"))
            .collect();
        assert!(data_codes.is_empty(), "{}: {data_codes:?}", path.display());
    }
}

/// Formatting is idempotent and changes nothing the checker sees, for every
/// fixture and shipped model.
#[test]
fn fmt_is_idempotent_and_preserves_meaning() {
    let mut files = nnet_files("tests/fixtures/ok");
    files.extend(nnet_files("tests/fixtures/err"));
    files.extend(nnet_files("models"));
    files.extend(nnet_files("examples"));
    for path in files {
        let source = read(&path);
        let Ok(once) = nnc_fmt::format(&source) else {
            // Files with syntax errors are not formatted.
            assert!(
                !nnc_syntax::parse(&source).1.is_empty(),
                "{} did not format",
                path.display()
            );
            continue;
        };
        let twice = nnc_fmt::format(&once).expect("formatted output parses");
        assert_eq!(
            once,
            twice,
            "{}: formatting is not idempotent",
            path.display()
        );
        let base = driver::base_dir(&path);
        let before = driver::check_source(&source, base, Options::default());
        let after = driver::check_source(&once, base, Options::default());
        let describe = |r: &driver::Report| -> Vec<(&str, String)> {
            r.diagnostics
                .iter()
                .map(|d| (d.code, d.message.clone()))
                .collect()
        };
        assert_eq!(
            describe(&before),
            describe(&after),
            "{}: check(fmt(x)) differs",
            path.display()
        );
        let comments = |text: &str| -> Vec<String> {
            nnc_syntax::parse(text)
                .0
                .comments
                .into_iter()
                .map(|c| c.text.trim_end().to_string())
                .collect()
        };
        assert_eq!(
            comments(&source),
            comments(&once),
            "{}: comments changed",
            path.display()
        );
    }
}
