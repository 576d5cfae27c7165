//! The data stage over whole programs: each code fires on the data that
//! deserves it, and the shipped MNIST inspects clean with the book's splits.

mod common;

use common::*;
use nnc_check::program::{LabelColumn, Labels, Program, Split};
use nnc_data::inspect;
use nnc_diag::data::{ClassLimit, DataError, ExampleShape, FileProblem, FoundClasses};
use std::path::Path;

fn mnist_like(dir: &TempDir, images: usize, labels: usize, classes: u32) -> (String, String) {
    dir.write(
        "data/img.idx.gz",
        &gzip(&idx_u8(&[images as u32, 4, 4], 256)),
    );
    dir.write("data/lab.idx", &idx_u8(&[labels as u32], classes));
    ("data/img.idx.gz".into(), "data/lab.idx".into())
}

fn only(errors: &[DataError], code: &str) {
    assert_eq!(codes(errors), vec![code], "{errors:#?}");
}

#[test]
fn clean_data_has_no_errors() {
    let dir = TempDir::new("clean");
    let (images, labels) = mnist_like(&dir, 20, 20, 10);
    let source = idx_source(&images, &labels);
    let mut spec = data("d", Some(split(&source, None, Some(15))), one_hot(10));
    spec.validation = Some(split(&source, Some(15), None));
    let errors = inspect(&program(spec, Some(model("m", &[16], 10))), base(&dir));
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn e0501_missing_file_suggests_a_close_name() {
    let dir = TempDir::new("e0501");
    mnist_like(&dir, 5, 5, 3);
    let source = idx_source("data/img.idx.gz", "data/lab.ixd");
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, None)), one_hot(10)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0501");
    let d = errors[0].to_diagnostic();
    assert!(d.message.contains("data/lab.ixd"), "{d:#?}");
    assert!(
        d.hints.iter().any(|h| h == "did you mean `data/lab.idx`?"),
        "{d:#?}"
    );
    assert!(
        d.hints
            .iter()
            .any(|h| h.contains("relative to the folder of the .nnet file")),
        "{d:#?}"
    );
    let folder = idx_source("dta/img.idx.gz", "data/lab.idx");
    let errors = inspect(
        &program(
            data("d", Some(split(&folder, None, None)), one_hot(10)),
            None,
        ),
        base(&dir),
    );
    let d = errors[0].to_diagnostic();
    assert!(
        d.hints
            .iter()
            .any(|h| h == "did you mean `data/img.idx.gz`?"),
        "{d:#?}"
    );
}

#[test]
fn e0502_not_idx() {
    let dir = TempDir::new("e0502");
    mnist_like(&dir, 5, 5, 3);
    dir.write("data/zip.gz", b"PK\x03\x04zzzz");
    let source = idx_source("data/zip.gz", "data/lab.idx");
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, None)), one_hot(10)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0502");
    let d = errors[0].to_diagnostic();
    assert!(d.notes.iter().any(|n| n.contains("50 4b 03 04")), "{d:#?}");
}

#[test]
fn e0503_size_mismatch() {
    let dir = TempDir::new("e0503");
    let mut bytes = idx_u8(&[6, 4, 4], 256);
    bytes.truncate(bytes.len() - 10);
    dir.write("img.gz", &gzip(&bytes));
    dir.write("lab.idx", &idx_u8(&[6], 3));
    let source = idx_source("img.gz", "lab.idx");
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, Some(7))), one_hot(10)),
            None,
        ),
        base(&dir),
    );
    // The header's count still drives the split check.
    assert_eq!(codes(&errors), vec!["E0503", "E0504"], "{errors:#?}");
    let d = errors[0].to_diagnostic();
    assert!(
        d.notes.iter().any(|n| n.contains("6 x 4 x 4 = 96 bytes")),
        "{d:#?}"
    );
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("86 bytes after the header once decompressed")),
        "{d:#?}"
    );
}

#[test]
fn e0504_split_larger_than_source() {
    let dir = TempDir::new("e0504");
    let (images, labels) = mnist_like(&dir, 60, 60, 10);
    let source = idx_source(&images, &labels);
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, Some(70))), one_hot(10)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0504");
    let d = errors[0].to_diagnostic();
    assert_eq!(
        d.message,
        "train split ends at example 70 but its source has 60 examples"
    );
    assert!(d.hints.iter().any(|h| h.contains("`[..]`")), "{d:#?}");
    let errors = inspect(
        &program(
            data("d", Some(split(&source, Some(60), None)), one_hot(10)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0504");
}

#[test]
fn e0505_labels_beyond_one_hot() {
    let dir = TempDir::new("e0505a");
    let (images, labels) = mnist_like(&dir, 20, 20, 10);
    let source = idx_source(&images, &labels);
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, None)), one_hot(9)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0505");
    match &errors[0] {
        DataError::ClassesMismatch {
            found: FoundClasses::Labels { largest: 9 },
            limit: ClassLimit::OneHot { classes: 9, .. },
            ..
        } => {}
        other => panic!("{other:#?}"),
    }
    let d = errors[0].to_diagnostic();
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("labels 0..9 = 10 classes")),
        "{d:#?}"
    );
}

#[test]
fn e0505_labels_beyond_model_output() {
    let dir = TempDir::new("e0505b");
    let (images, labels) = mnist_like(&dir, 20, 20, 10);
    let source = idx_source(&images, &labels);
    let spec = data("d", Some(split(&source, None, None)), Labels::Index);
    let errors = inspect(&program(spec, Some(model("m", &[16], 9))), base(&dir));
    only(&errors, "E0505");
    let d = errors[0].to_diagnostic();
    assert_eq!(
        d.message,
        "labels have 10 classes but model `m` has 9 output units"
    );
}

#[test]
fn e0505_labels_that_are_not_classes() {
    let dir = TempDir::new("e0505c");
    dir.write("img.idx", &idx_u8(&[3, 2], 256));
    dir.write(
        "lab.idx",
        &idx_bytes(
            0x0D,
            &[3],
            &[0.0f32, 1.5, 2.0]
                .iter()
                .flat_map(|v| v.to_be_bytes())
                .collect::<Vec<u8>>(),
        ),
    );
    let source = idx_source("img.idx", "lab.idx");
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, None)), one_hot(3)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0505");
    assert!(
        errors[0]
            .to_diagnostic()
            .message
            .contains("label 1.5 at example 1"),
        "{errors:#?}"
    );
    // The same labels are fine as regression targets.
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, None)), Labels::Value),
            None,
        ),
        base(&dir),
    );
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn e0505_swapped_files() {
    let dir = TempDir::new("e0505d");
    let (images, labels) = mnist_like(&dir, 4, 4, 3);
    let source = idx_source(&labels, &images);
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, None)), one_hot(3)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0505");
    let d = errors[0].to_diagnostic();
    assert!(d.hints.iter().any(|h| h.contains("swapped")), "{d:#?}");
}

#[test]
fn e0506_count_mismatch() {
    let dir = TempDir::new("e0506");
    let (images, labels) = mnist_like(&dir, 20, 18, 10);
    let source = idx_source(&images, &labels);
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, None)), one_hot(10)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0506");
    assert_eq!(
        errors[0].to_diagnostic().message,
        "images and labels differ in count: 20 images but 18 labels"
    );
}

#[test]
fn e0507_malformed_csv() {
    let dir = TempDir::new("e0507");
    dir.write("t.csv", b"label,p1,p2\n1,0.5,0.25\n2,0.5\n");
    let source = csv_source("t.csv", LabelColumn::Name("label".into()), true);
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, None)), one_hot(3)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0507");
    assert_eq!(
        errors[0].to_diagnostic().message,
        "line 3 of `t.csv` has 2 columns, expected 3"
    );
    dir.write("h.csv", b"label,p1\n1,0.5\n");
    let source = csv_source("h.csv", LabelColumn::Index(0), false);
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, None)), one_hot(3)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0507");
    let d = errors[0].to_diagnostic();
    assert!(
        d.message
            .contains("line 1, column 1 of `h.csv` is not a number: `label`"),
        "{d:#?}"
    );
    assert!(d.hints.iter().any(|h| h.contains("header: true")), "{d:#?}");
}

#[test]
fn csv_checked_against_model() {
    let dir = TempDir::new("csvmodel");
    dir.write("t.csv", b"a,b,c,label\n1,2,3,0\n4,5,6,4\n");
    let source = csv_source("t.csv", LabelColumn::Name("label".into()), true);
    let spec = data("d", Some(split(&source, None, None)), Labels::Index);
    let errors = inspect(
        &program(spec.clone(), Some(model("m", &[3], 5))),
        base(&dir),
    );
    assert!(errors.is_empty(), "{errors:#?}");
    let errors = inspect(&program(spec, Some(model("m", &[4], 4))), base(&dir));
    assert_eq!(codes(&errors), vec!["E0509", "E0505"], "{errors:#?}");
    let regression = data("d", Some(split(&source, None, None)), Labels::Value);
    let errors = inspect(&program(regression, Some(model("m", &[3], 2))), base(&dir));
    assert_eq!(codes(&errors), vec!["E0505"], "{errors:#?}");
}

#[test]
fn e0508_malformed_folder() {
    let dir = TempDir::new("e0508");
    dir.write("imgs/cat/a.png", &png(2, 2));
    dir.mkdir("imgs/dog");
    let source = folder_source("imgs", &[1, 2, 2]);
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, None)), one_hot(2)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0508");
    assert_eq!(
        errors[0].to_diagnostic().message,
        "class folder `imgs/dog` holds no images"
    );
}

#[test]
fn folder_checked_against_one_hot_and_model() {
    let dir = TempDir::new("folder");
    for class in ["cat", "dog", "emu"] {
        dir.write(&format!("imgs/{class}/1.png"), &png(2, 2));
        dir.write(&format!("imgs/{class}/2.jpg"), &png(2, 2));
    }
    let source = folder_source("imgs", &[1, 2, 2]);
    let ok = data("d", Some(split(&source, None, Some(6))), one_hot(3));
    let errors = inspect(&program(ok, Some(model("m", &[1, 2, 2], 3))), base(&dir));
    assert!(errors.is_empty(), "{errors:#?}");
    let wrong_k = data("d", Some(split(&source, None, Some(7))), one_hot(10));
    let errors = inspect(&program(wrong_k, Some(model("m", &[4], 10))), base(&dir));
    assert_eq!(
        codes(&errors),
        vec!["E0504", "E0505", "E0509"],
        "{errors:#?}"
    );
    let d = errors[2].to_diagnostic();
    assert!(d.hints.iter().any(|h| h.contains("size: [4]")), "{d:#?}");
}

#[test]
fn e0509_images_do_not_fit_the_input() {
    let dir = TempDir::new("e0509");
    dir.write("img.gz", &gzip(&idx_u8(&[4, 28, 28], 256)));
    dir.write("lab.gz", &gzip(&idx_u8(&[4], 10)));
    let source = idx_source("img.gz", "lab.gz");
    let spec = data("d", Some(split(&source, None, None)), one_hot(10));
    for fitting in [vec![784], vec![1, 28, 28], vec![28, 28]] {
        let errors = inspect(
            &program(spec.clone(), Some(model("m", &fitting, 10))),
            base(&dir),
        );
        assert!(errors.is_empty(), "{fitting:?}: {errors:#?}");
    }
    for wrong in [vec![100], vec![4, 14, 14], vec![3, 28, 28]] {
        let errors = inspect(
            &program(spec.clone(), Some(model("m", &wrong, 10))),
            base(&dir),
        );
        only(&errors, "E0509");
    }
    let errors = inspect(&program(spec, Some(model("m", &[100], 10))), base(&dir));
    match &errors[0] {
        DataError::InputMismatch {
            example: ExampleShape::Idx(shape),
            input_shape,
            ..
        } => {
            assert_eq!(
                (shape.as_slice(), input_shape.as_slice()),
                (&[28, 28][..], &[100][..])
            );
        }
        other => panic!("{other:#?}"),
    }
    let d = errors[0].to_diagnostic();
    assert_eq!(
        d.message,
        "IDX images of shape [28, 28] (784 values) do not fit the input of model `m`"
    );
    assert!(
        d.notes.iter().any(|n| n.contains("[784] or [1, 28, 28]")),
        "{d:#?}"
    );
}

#[test]
fn unused_data_is_not_checked_against_a_model() {
    let dir = TempDir::new("unused");
    let (images, labels) = mnist_like(&dir, 10, 10, 10);
    let source = idx_source(&images, &labels);
    let spec = data("d", Some(split(&source, None, None)), Labels::Index);
    let mut prog = program(spec, None);
    prog.models.push(model("m", &[100], 2));
    assert!(inspect(&prog, base(&dir)).is_empty());
}

#[test]
fn each_source_is_reported_once() {
    let dir = TempDir::new("once");
    let source = idx_source("nope.gz", "nada.gz");
    let mut spec = data("d", Some(split(&source, None, Some(5))), one_hot(10));
    spec.validation = Some(split(&source, Some(5), None));
    let errors = inspect(&program(spec, Some(model("m", &[4], 10))), base(&dir));
    assert_eq!(codes(&errors), vec!["E0501", "E0501"], "{errors:#?}");
}

#[test]
fn diagnostics_render_with_the_source() {
    let dir = TempDir::new("render");
    let text = "data d {\n  let f = idx(\"a.gz\", labels: \"b.gz\")\n  train f[..5]\n}\n";
    let source_start = text.find("idx(").expect("idx");
    let source_end = text.find(")\n").expect("close") + 1;
    let split_start = text.find("f[..5]").expect("split");
    let src = nnc_check::program::Source::Idx {
        images: "a.gz".into(),
        labels: Some("b.gz".into()),
        span: span(source_start, source_end),
    };
    let split = Split {
        source: src,
        start: None,
        end: Some(nnc_check::program::SliceBound::Index(5)),
        span: span(split_start, split_start + 6),
        holdout: None,
    };
    let errors = inspect(
        &Program {
            models: vec![],
            data: vec![data("d", Some(split), Labels::Index)],
            trains: vec![],
        },
        base(&dir),
    );
    let diagnostics: Vec<_> = errors.iter().map(DataError::to_diagnostic).collect();
    let rendered = nnc_diag::render::to_text(&diagnostics, "d.nnet", text, false);
    assert!(
        rendered.contains("error[E0501]: data file not found: `a.gz`"),
        "{rendered}"
    );
    assert!(rendered.contains("d.nnet:2:11"), "{rendered}");
}

fn mnist_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"))
}

#[test]
fn shipped_mnist_inspects_clean_with_the_book_splits() {
    let train_file = idx_source("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
    let test_file = idx_source("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
    let mut spec = data(
        "mnist",
        Some(split(&train_file, None, Some(50_000))),
        one_hot(10),
    );
    spec.validation = Some(split(&train_file, Some(50_000), None));
    spec.test = Some(Split {
        source: test_file,
        start: None,
        end: None,
        span: span(70, 80),
        holdout: None,
    });
    let errors = inspect(
        &program(spec.clone(), Some(model("mnist_mlp", &[784], 10))),
        mnist_dir(),
    );
    assert!(errors.is_empty(), "{errors:#?}");
    let errors = inspect(
        &program(spec.clone(), Some(model("lenet", &[1, 28, 28], 10))),
        mnist_dir(),
    );
    assert!(errors.is_empty(), "{errors:#?}");
    // A split past the end of the real file is caught with the real count.
    spec.train = Some(split(&train_file, None, Some(70_000)));
    let errors = inspect(&program(spec, None), mnist_dir());
    match errors.as_slice() {
        [DataError::SplitTooLarge {
            available: 60_000,
            end: Some(70_000),
            ..
        }] => {}
        other => panic!("{other:#?}"),
    }
}

#[test]
fn shipped_mnist_headers() {
    let header =
        nnc_data::check_idx_file(&mnist_dir().join("t10k-images-idx3-ubyte.gz")).expect("header");
    assert!(header.gzip);
    assert_eq!(header.dims, vec![10_000, 28, 28]);
    let (labels, stats) =
        nnc_data::scan_idx_labels(&mnist_dir().join("train-labels-idx1-ubyte.gz")).expect("labels");
    assert_eq!(labels.count(), 60_000);
    assert_eq!(stats.range, Some((0.0, 9.0)));
    assert!(matches!(
        nnc_data::read_idx_header(&mnist_dir().join("missing.gz")),
        Err(FileProblem::NotFound(_))
    ));
}

#[test]
fn absurd_headers_never_panic() {
    let dir = TempDir::new("absurd");
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let source = idx_source("img.idx", "lab.idx");
    for _ in 0..100 {
        for name in ["img.idx", "lab.idx"] {
            let rank = (next() % 6) as usize;
            let dims: Vec<u32> = (0..rank)
                .map(|_| match next() % 3 {
                    0 => u32::MAX,
                    1 => (next() % 4) as u32,
                    _ => next() as u32,
                })
                .collect();
            let code = [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E][(next() % 6) as usize];
            let payload: Vec<u8> = (0..next() % 64).map(|_| next() as u8).collect();
            let bytes = idx_bytes(code, &dims, &payload);
            let bytes = if next() % 2 == 0 { gzip(&bytes) } else { bytes };
            dir.write(name, &bytes);
        }
        for labels in [one_hot(3), Labels::Index, Labels::Value] {
            let spec = data("d", Some(split(&source, Some(1), Some(3))), labels);
            let errors = inspect(&program(spec, Some(model("m", &[4], 3))), base(&dir));
            for e in &errors {
                let d = e.to_diagnostic();
                assert!(nnc_diag::codes::title(d.code).is_some(), "{d:#?}");
            }
        }
    }
}

#[test]
fn truncated_gzip_csv_is_a_clear_error() {
    let dir = TempDir::new("csvgz");
    let text: String = (0..2000)
        .map(|i| format!("{},{},{}\n", i % 3, i, i * 2))
        .collect();
    let full = gzip(text.as_bytes());
    dir.write("t.csv.gz", full.get(..full.len() / 2).expect("half"));
    let source = csv_source("t.csv.gz", LabelColumn::Index(0), false);
    let errors = inspect(
        &program(
            data("d", Some(split(&source, None, None)), one_hot(3)),
            None,
        ),
        base(&dir),
    );
    only(&errors, "E0510");
    let d = errors[0].to_diagnostic();
    assert_eq!(d.message, "CSV file `t.csv.gz` is cut off");
}

#[test]
fn e0504_an_empty_source_makes_an_empty_split() {
    let dir = TempDir::new("empty-split");
    dir.write("i.idx", &idx_u8(&[0, 2, 2], 256));
    dir.write("l.idx", &idx_u8(&[0], 10));
    let source = idx_source("i.idx", "l.idx");
    let spec = data("d", Some(split(&source, None, None)), one_hot(10));
    let errors = inspect(&program(spec, None), base(&dir));
    only(&errors, "E0504");
}

#[test]
fn e0505_folder_class_values_are_one_target() {
    let dir = TempDir::new("folder-value");
    dir.write("f/a/1.png", &png(2, 2));
    dir.write("f/b/1.png", &png(2, 2));
    let source = folder_source("f", &[1, 2, 2]);
    let spec = data("d", Some(split(&source, None, None)), Labels::Value);
    let errors = inspect(&program(spec, Some(model("m", &[1, 2, 2], 2))), base(&dir));
    only(&errors, "E0505");
    assert!(
        matches!(
            errors[0],
            DataError::TargetMismatch {
                target: 1,
                units: 2,
                ..
            }
        ),
        "{errors:#?}"
    );
}
