//! Loading data blocks: the right examples in the right splits, scaling,
//! targets, image decoding, conversion and resizing, every error as a fact,
//! and the shipped MNIST with the book's splits.

mod common;

use common::*;
use nnc_check::program::{DataSpec, LabelColumn, Labels, Model, Source};
use nnc_data::{load, Dataset, LoadedData, TargetKind};
use nnc_diag::data::{DataError, FileProblem, ImageProblem};
use std::path::{Path, PathBuf};

fn loaded(spec: &DataSpec, dir: &TempDir, model: Option<&Model>) -> LoadedData {
    match load(spec, base(dir), model) {
        Ok(data) => data,
        Err(errors) => panic!("load failed: {errors:#?}"),
    }
}

fn failed(spec: &DataSpec, dir: &TempDir, model: Option<&Model>) -> Vec<DataError> {
    match load(spec, base(dir), model) {
        Ok(_) => panic!("load succeeded where it should fail"),
        Err(errors) => errors,
    }
}

/// The inputs and targets of the examples at `indices`.
fn batch(data: &Dataset, indices: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    data.fill_batch(indices, &mut inputs, &mut targets);
    (inputs, targets)
}

fn one_hot_row(class: usize, classes: usize) -> Vec<f32> {
    (0..classes)
        .map(|c| if c == class { 1.0 } else { 0.0 })
        .collect()
}

/// Five 2x2 u8 images (pixel `i` of the file is `i`) and their labels.
fn small_idx(dir: &TempDir, gz: bool) -> Source {
    let images = idx_u8(&[5, 2, 2], 256);
    let labels = idx_bytes(0x08, &[5], &[3, 1, 4, 1, 0]);
    let (images, labels) = if gz {
        (gzip(&images), gzip(&labels))
    } else {
        (images, labels)
    };
    dir.write("d/images.idx", &images);
    dir.write("d/labels.idx", &labels);
    idx_source("d/images.idx", "d/labels.idx")
}

#[test]
fn idx_plain_and_gzip_split_scale_and_one_hot() {
    for gz in [false, true] {
        let dir = TempDir::new("idx");
        let source = small_idx(&dir, gz);
        let mut spec = data("d", Some(split(&source, None, Some(3))), one_hot(5));
        spec.validation = Some(split(&source, Some(3), None));
        spec.scale = 1.0 / 255.0;
        let data = loaded(&spec, &dir, Some(&model("m", &[4], 5)));
        let train = data.train.as_ref().expect("train");
        let validation = data.validation.as_ref().expect("validation");
        assert!(data.test.is_none());
        assert_eq!((train.len(), validation.len()), (3, 2));
        assert_eq!((train.input_len(), train.target_len()), (4, 5));
        assert_eq!(train.target_kind(), TargetKind::OneHot { classes: 5 });
        assert_eq!(validation.source_range(), 3..5);

        let (inputs, targets) = batch(train, &[2, 0]);
        let expected: Vec<f32> = [8, 9, 10, 11, 0, 1, 2, 3]
            .iter()
            .map(|v| (f64::from(*v) / 255.0) as f32)
            .collect();
        assert_eq!(inputs, expected);
        assert_eq!(targets, [one_hot_row(4, 5), one_hot_row(3, 5)].concat());

        let (inputs, targets) = batch(validation, &[1, 0]);
        assert_eq!(inputs[0], (16.0f64 / 255.0) as f32);
        assert_eq!(inputs[4], (12.0f64 / 255.0) as f32);
        assert_eq!(targets, [one_hot_row(0, 5), one_hot_row(1, 5)].concat());
        assert_eq!(validation.class_labels(), Some(vec![1u32, 0]));
        assert_eq!(train.class(0), Some(3));
        assert!(train.class_names().is_none());
    }
}

#[test]
fn index_labels_become_one_hot_for_a_softmax_and_a_value_for_one_unit() {
    let dir = TempDir::new("index");
    let images = idx_u8(&[4, 2], 256);
    dir.write("i.idx", &images);
    dir.write("l.idx", &idx_bytes(0x08, &[4], &[1, 0, 1, 1]));
    let source = idx_source("i.idx", "l.idx");
    let spec = data("d", Some(split(&source, None, None)), Labels::Index);

    let softmax = loaded(&spec, &dir, Some(&model("m", &[2], 2)));
    let train = softmax.train.expect("train");
    assert_eq!(train.target_kind(), TargetKind::OneHot { classes: 2 });
    assert_eq!(batch(&train, &[0, 1]).1, vec![0.0, 1.0, 1.0, 0.0]);

    let sigmoid = loaded(&spec, &dir, Some(&model("m", &[2], 1)));
    let train = sigmoid.train.expect("train");
    assert_eq!(train.target_kind(), TargetKind::Index);
    assert_eq!(batch(&train, &[0, 1, 2]).1, vec![1.0, 0.0, 1.0]);

    let alone = loaded(&spec, &dir, None);
    assert_eq!(alone.train.expect("train").target_kind(), TargetKind::Index);
}

#[test]
fn float_idx_images_and_value_labels() {
    let dir = TempDir::new("floats");
    let pixels: Vec<u8> = [1.5f32, -2.0, 0.25, 8.0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    dir.write("x.idx", &idx_bytes(0x0D, &[2, 2], &pixels));
    let targets: Vec<u8> = [0.5f32, 1.0, -1.0, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    dir.write("y.idx", &idx_bytes(0x0D, &[2, 3], &targets));
    let source = idx_source("x.idx", "y.idx");
    let mut spec = data("d", Some(split(&source, None, None)), Labels::Value);
    spec.scale = 2.0;
    let train = loaded(&spec, &dir, Some(&model("m", &[2], 3)))
        .train
        .expect("train");
    assert_eq!(train.target_kind(), TargetKind::Values { width: 3 });
    assert_eq!(
        batch(&train, &[1, 0]),
        (
            vec![0.5, 16.0, 3.0, -4.0],
            vec![2.0, 3.0, 4.0, 0.5, 1.0, -1.0]
        )
    );
    assert!(train.class_labels().is_none());
    assert_eq!(train.class(0), None);

    let errors = failed(&spec, &dir, Some(&model("m", &[2], 2)));
    assert_eq!(codes(&errors), vec!["E0505"], "{errors:#?}");
    assert!(matches!(
        errors[0],
        DataError::TargetMismatch {
            target: 3,
            units: 2,
            ..
        }
    ));
}

#[test]
fn errors_are_facts_at_the_source() {
    let dir = TempDir::new("errors");
    let good = small_idx(&dir, true);
    let missing = idx_source("d/images.idx", "d/labels.ixd");
    dir.write("bad/zip.idx", b"PK\x03\x04 not idx");
    let not_idx = idx_source("bad/zip.idx", "d/labels.idx");
    let mut truncated = idx_u8(&[5, 2, 2], 256);
    truncated.truncate(truncated.len() - 3);
    dir.write("bad/short.idx", &truncated);
    let short = idx_source("bad/short.idx", "d/labels.idx");
    let mut cut_gzip = gzip(&idx_u8(&[5, 2, 2], 256));
    cut_gzip.truncate(cut_gzip.len() - 12);
    dir.write("bad/cut.gz", &cut_gzip);
    let cut = idx_source("bad/cut.gz", "d/labels.idx");
    dir.write("bad/four.idx", &idx_bytes(0x08, &[4], &[0, 1, 2, 3]));
    let uneven = idx_source("d/images.idx", "bad/four.idx");

    let cases: [(&Source, Option<usize>, &str); 6] = [
        (&missing, None, "E0501"),
        (&not_idx, None, "E0502"),
        (&short, None, "E0503"),
        (&cut, None, "E0503"),
        (&uneven, None, "E0506"),
        (&good, Some(9), "E0504"),
    ];
    for (source, end, code) in cases {
        let spec = data("d", Some(split(source, None, end)), one_hot(5));
        let errors = failed(&spec, &dir, None);
        assert_eq!(codes(&errors), vec![code], "{errors:#?}");
        // File problems point at the source, a split too large at the split.
        let at = if code == "E0504" {
            span(30, 40)
        } else {
            span(10, 20)
        };
        assert_eq!(errors[0].span(), at);
    }
}

#[test]
fn every_problem_of_a_block_is_reported() {
    let dir = TempDir::new("many");
    let good = small_idx(&dir, false);
    let missing = idx_source("nowhere/images.idx", "d/labels.idx");
    let mut spec = data("d", Some(split(&good, None, None)), one_hot(3));
    spec.test = Some(split(&missing, None, None));
    let errors = failed(&spec, &dir, Some(&model("m", &[5], 3)));
    // Labels up to 4 do not fit one_hot(3); the test images are missing;
    // 2x2 images do not fit an input of 5.
    assert_eq!(
        codes(&errors),
        vec!["E0501", "E0505", "E0509"],
        "{errors:#?}"
    );
}

#[test]
fn labels_that_are_not_classes_are_reported() {
    let dir = TempDir::new("labels");
    dir.write("i.idx", &idx_u8(&[3, 2], 256));
    dir.write("l.idx", &idx_bytes(0x09, &[3], &[0, 0xFF, 1]));
    let source = idx_source("i.idx", "l.idx");
    let spec = data("d", Some(split(&source, None, None)), one_hot(2));
    let errors = failed(&spec, &dir, None);
    assert!(
        matches!(errors.as_slice(), [DataError::LabelNotClass { value, .. }] if *value == -1.0),
        "{errors:#?}"
    );
}

#[test]
fn csv_features_in_file_order_and_labels() {
    let dir = TempDir::new("csv");
    dir.write(
        "t.csv",
        b"a,y,b,c\n1,0,2,3\n4,1,5,6\n\n7,2,8,9\n10,1,11,12\n",
    );
    let source = csv_source("t.csv", LabelColumn::Name("y".into()), true);
    let mut spec = data("d", Some(split(&source, Some(1), None)), one_hot(3));
    spec.test = Some(split(&source, None, Some(1)));
    spec.scale = 0.5;
    let table = loaded(&spec, &dir, Some(&model("m", &[3], 3)));
    let train = table.train.expect("train");
    assert_eq!((train.len(), train.input_len()), (3, 3));
    assert_eq!(
        batch(&train, &[1, 0]),
        (
            vec![3.5, 4.0, 4.5, 2.0, 2.5, 3.0],
            [one_hot_row(2, 3), one_hot_row(1, 3)].concat()
        )
    );
    let test = table.test.expect("test");
    assert_eq!(batch(&test, &[0]).0, vec![0.5, 1.0, 1.5]);

    let regression = data("r", Some(split(&source, None, None)), Labels::Value);
    let train = loaded(&regression, &dir, Some(&model("m", &[3], 1)))
        .train
        .expect("train");
    assert_eq!(train.target_kind(), TargetKind::Values { width: 1 });
    assert_eq!(batch(&train, &[0, 3, 2]).1, vec![0.0, 1.0, 2.0]);

    dir.write("bad.csv", b"x,y\n1,2\n3,oops\n");
    let bad = csv_source("bad.csv", LabelColumn::Index(1), true);
    let errors = failed(
        &data("b", Some(split(&bad, None, None)), Labels::Value),
        &dir,
        None,
    );
    assert_eq!(codes(&errors), vec!["E0507"], "{errors:#?}");
}

/// `labels none` on a `csv(path)` source without a label column: every
/// column is an input (the model's input has as many values), the targets
/// are placeholders, and `nnc check --data`'s inspection agrees; a model
/// whose input has one value fewer is refused with the features counted.
#[test]
fn csv_without_labels_feeds_every_column() {
    let dir = TempDir::new("csvnone");
    dir.write("u.csv", b"a,b,c\n1,2,3\n4,5,6\n7,8,9\n");
    let source = csv_source("u.csv", None, true);
    let spec = data("u", Some(split(&source, None, Some(2))), Labels::None);
    let train = loaded(&spec, &dir, Some(&model("m", &[3], 3)))
        .train
        .expect("train");
    assert_eq!((train.len(), train.input_len()), (2, 3));
    assert_eq!(
        batch(&train, &[1, 0]),
        (vec![4.0, 5.0, 6.0, 1.0, 2.0, 3.0], vec![0.0, 0.0])
    );
    let errors = failed(&spec, &dir, Some(&model("m", &[2], 2)));
    assert_eq!(codes(&errors), vec!["E0509"], "{errors:#?}");
    dir.write("r.csv", b"1,2\n3\n");
    let ragged = csv_source("r.csv", None, false);
    let errors = failed(
        &data("r", Some(split(&ragged, None, None)), Labels::None),
        &dir,
        None,
    );
    assert_eq!(codes(&errors), vec!["E0507"], "{errors:#?}");
}

/// Writes a PNG with the `png` crate.
fn write_png(
    dir: &TempDir,
    rel: &str,
    (width, height): (u32, u32),
    color: png::ColorType,
    depth: png::BitDepth,
    data: &[u8],
    palette: Option<&[u8]>,
) -> PathBuf {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(color);
        encoder.set_depth(depth);
        if let Some(palette) = palette {
            encoder.set_palette(palette.to_vec());
        }
        let mut writer = encoder.write_header().expect("png header");
        writer.write_image_data(data).expect("png data");
    }
    dir.write(rel, &bytes)
}

/// Two classes: `a` with a 4x4 RGB image, `b` with a 2x2 grey one and a
/// 2x2 RGBA one.
fn small_folder(dir: &TempDir) -> Source {
    let mut rgb = Vec::new();
    for y in 0..4u8 {
        for x in 0..4u8 {
            rgb.extend_from_slice(&[x * 60, y * 60, 200]);
        }
    }
    write_png(
        dir,
        "f/a/one.png",
        (4, 4),
        png::ColorType::Rgb,
        png::BitDepth::Eight,
        &rgb,
        None,
    );
    write_png(
        dir,
        "f/b/2.png",
        (2, 2),
        png::ColorType::Grayscale,
        png::BitDepth::Eight,
        &[0, 100, 200, 40],
        None,
    );
    write_png(
        dir,
        "f/b/3.png",
        (2, 2),
        png::ColorType::Rgba,
        png::BitDepth::Eight,
        &[
            255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 10, 20, 30, 255,
        ],
        None,
    );
    dir.write("f/b/notes.txt", b"not an image");
    folder_source("f", &[3, 2, 2])
}

#[test]
fn folder_images_convert_resize_and_keep_class_order() {
    let dir = TempDir::new("folder");
    let source = small_folder(&dir);
    let spec = data("d", Some(split(&source, None, None)), one_hot(2));
    let train = loaded(&spec, &dir, Some(&model("m", &[3, 2, 2], 2)))
        .train
        .expect("train");
    assert_eq!((train.len(), train.input_len()), (3, 12));
    assert_eq!(train.class_labels(), Some(vec![0u32, 1, 1]));
    assert_eq!(
        train.class_names(),
        Some(&["a".to_string(), "b".to_string()][..])
    );
    let (inputs, targets) = batch(&train, &[0, 1, 2]);
    // The 4x4 RGB image halves by averaging 2x2 blocks: red is 60x, green
    // 60y, blue 200. Planes come one after another ([c, h, w]).
    let a: Vec<f32> = vec![
        30.0, 150.0, 30.0, 150.0, 30.0, 30.0, 150.0, 150.0, 200.0, 200.0, 200.0, 200.0,
    ];
    // Grey repeats into the three planes.
    let b2: Vec<f32> = [[0.0, 100.0, 200.0, 40.0]; 3].concat();
    // RGBA drops alpha.
    let b3: Vec<f32> = vec![
        255.0, 0.0, 0.0, 10.0, 0.0, 255.0, 0.0, 20.0, 0.0, 0.0, 255.0, 30.0,
    ];
    assert_eq!(inputs, [a, b2, b3].concat());
    assert_eq!(
        targets,
        [one_hot_row(0, 2), one_hot_row(1, 2), one_hot_row(1, 2)].concat()
    );
}

#[test]
fn folder_grey_conversion_and_enlarging() {
    let dir = TempDir::new("grey");
    small_folder(&dir);
    let source = folder_source("f", &[1, 4, 4]);
    let mut spec = data("d", Some(split(&source, Some(1), None)), Labels::Index);
    spec.scale = 1.0 / 255.0;
    let train = loaded(&spec, &dir, None).train.expect("train");
    assert_eq!(train.len(), 2);
    let (inputs, targets) = batch(&train, &[0, 1]);
    assert_eq!(targets, vec![1.0, 1.0]);
    let bytes: Vec<u8> = inputs.iter().map(|v| (v * 255.0).round() as u8).collect();
    // The 2x2 grey image [0, 100; 200, 40] doubled bilinearly: row 0 of the
    // output interpolates 0..100 at source x = 0, 0.25, 0.75, 1 (clamped).
    assert_eq!(&bytes[..4], &[0, 25, 75, 100]);
    // Output (3, 3) sits at source (1, 1) clamped: 40.
    assert_eq!(bytes[15], 40);
    // The RGBA image in grey: luma of red, green, blue, (10, 20, 30).
    let luma = |r: f64, g: f64, b: f64| (0.299 * r + 0.587 * g + 0.114 * b).round() as u8;
    let second = &bytes[16..];
    assert_eq!(second[0], luma(255.0, 0.0, 0.0));
    assert_eq!(second[3], luma(0.0, 255.0, 0.0));
    assert_eq!(second[12], luma(0.0, 0.0, 255.0));
    assert_eq!(second[15], luma(10.0, 20.0, 30.0));
}

#[test]
fn palette_and_sixteen_bit_pngs_decode_to_bytes() {
    let dir = TempDir::new("png-kinds");
    let palette = [255, 0, 0, 0, 0, 255];
    write_png(
        &dir,
        "p/x/pal.png",
        (2, 1),
        png::ColorType::Indexed,
        png::BitDepth::Eight,
        &[1, 0],
        Some(&palette),
    );
    let sixteen: Vec<u8> = [0x1234u16, 0xFF00]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    write_png(
        &dir,
        "p/y/deep.png",
        (2, 1),
        png::ColorType::Grayscale,
        png::BitDepth::Sixteen,
        &sixteen,
        None,
    );
    let source = folder_source("p", &[3, 1, 2]);
    let spec = data("d", Some(split(&source, None, None)), Labels::Index);
    let train = loaded(&spec, &dir, None).train.expect("train");
    let (inputs, _) = batch(&train, &[0, 1]);
    assert_eq!(
        inputs,
        vec![0.0, 255.0, 0.0, 0.0, 255.0, 0.0, 18.0, 255.0, 18.0, 255.0, 18.0, 255.0]
    );
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The pixel formulas of tests/data/make_jpeg.py.
fn jpeg_grey(x: usize, y: usize) -> f32 {
    (20 + 12 * x + 5 * y) as f32
}

fn jpeg_rgb(x: usize, y: usize) -> [f32; 3] {
    [
        (30 + 12 * x) as f32,
        (40 + 20 * y) as f32,
        (220 - 8 * x - 6 * y) as f32,
    ]
}

fn jpeg_folder(dir: &TempDir) {
    for (class, name) in [("grey", "gradient_grey.jpg"), ("rgb", "gradient_rgb.jpg")] {
        let bytes = std::fs::read(fixture(name)).expect("fixture");
        dir.write(&format!("j/{class}/{name}"), &bytes);
    }
}

#[test]
fn jpeg_images_decode_close_to_their_pixels() {
    let dir = TempDir::new("jpeg");
    jpeg_folder(&dir);
    let (width, height) = (16, 8);
    let source = folder_source("j", &[3, height, width]);
    let spec = data("d", Some(split(&source, None, None)), Labels::Index);
    let train = loaded(&spec, &dir, None).train.expect("train");
    let (inputs, targets) = batch(&train, &[0, 1]);
    assert_eq!(targets, vec![0.0, 1.0]);
    let plane = width * height;
    let (grey, rgb) = inputs.split_at(3 * plane);
    for y in 0..height {
        for x in 0..width {
            let expected = jpeg_rgb(x, y);
            for c in 0..3 {
                let got = grey[c * plane + y * width + x];
                assert!(
                    (got - jpeg_grey(x, y)).abs() <= 2.0,
                    "grey ({x}, {y}): {got}"
                );
                let got = rgb[c * plane + y * width + x];
                assert!(
                    (got - expected[c]).abs() <= 3.0,
                    "rgb ({x}, {y}) channel {c}: {got} vs {}",
                    expected[c]
                );
            }
        }
    }

    // In grey, the colour image becomes its luma.
    let source = folder_source("j", &[1, height, width]);
    let spec = data("d", Some(split(&source, Some(1), None)), Labels::Index);
    let train = loaded(&spec, &dir, None).train.expect("train");
    let (inputs, _) = batch(&train, &[0]);
    for y in 0..height {
        for x in 0..width {
            let [r, g, b] = jpeg_rgb(x, y);
            let luma = 0.299 * r + 0.587 * g + 0.114 * b;
            let got = inputs[y * width + x];
            assert!(
                (got - luma).abs() <= 3.0,
                "luma ({x}, {y}): {got} vs {luma}"
            );
        }
    }
}

#[test]
fn images_are_recognised_by_their_bytes() {
    let dir = TempDir::new("sniff");
    let jpeg = std::fs::read(fixture("gradient_grey.jpg")).expect("fixture");
    dir.write("s/only/actually_jpeg.png", &jpeg);
    let source = folder_source("s", &[1, 8, 16]);
    let spec = data("d", Some(split(&source, None, None)), Labels::Index);
    let train = loaded(&spec, &dir, None).train.expect("train");
    let (inputs, _) = batch(&train, &[0]);
    assert!((inputs[0] - jpeg_grey(0, 0)).abs() <= 2.0);
}

#[test]
fn undecodable_images_are_named() {
    let dir = TempDir::new("bad-images");
    small_folder(&dir);
    dir.write("f/a/zz_text.png", b"GIF89a, not really");
    let jpeg = std::fs::read(fixture("gradient_rgb.jpg")).expect("fixture");
    dir.write("f/b/cut.jpg", &jpeg[..jpeg.len() / 3]);
    let mut png = png(4, 4);
    png.truncate(40);
    dir.write("f/b/cut.png", &png);
    let source = folder_source("f", &[3, 2, 2]);
    let spec = data("d", Some(split(&source, None, None)), one_hot(2));
    let errors = failed(&spec, &dir, None);
    let named: Vec<(&str, &ImageProblem)> = errors
        .iter()
        .filter_map(|e| match e {
            DataError::File {
                problem: FileProblem::BadImage { image, problem },
                ..
            } => Some((image.as_str(), problem)),
            _ => None,
        })
        .collect();
    assert_eq!(named.len(), 3, "{errors:#?}");
    assert_eq!(named[0].0, "a/zz_text.png");
    assert!(matches!(named[0].1, ImageProblem::NotAnImage { found } if found == b"GIF8"));
    assert_eq!(named[1].0, "b/cut.jpg");
    assert!(matches!(named[1].1, ImageProblem::Decode { .. }));
    assert_eq!(named[2].0, "b/cut.png");
    assert!(matches!(named[2].1, ImageProblem::Decode { .. }));
    assert!(codes(&errors).iter().all(|c| *c == "E0510"));
    let words = errors[0].to_diagnostic();
    assert!(words.message.contains("a/zz_text.png"), "{words:?}");
}

#[test]
fn folder_classes_must_fit_one_hot() {
    let dir = TempDir::new("folder-classes");
    let source = small_folder(&dir);
    let spec = data("d", Some(split(&source, None, None)), one_hot(3));
    let errors = failed(&spec, &dir, None);
    assert_eq!(codes(&errors), vec!["E0505"], "{errors:#?}");
}

#[test]
fn loading_is_deterministic() {
    let dir = TempDir::new("again");
    small_folder(&dir);
    jpeg_folder(&dir);
    let source = folder_source("j", &[3, 5, 7]);
    let spec = data("d", Some(split(&source, None, None)), Labels::Index);
    let first = batch(&loaded(&spec, &dir, None).train.expect("train"), &[1, 0]);
    let second = batch(&loaded(&spec, &dir, None).train.expect("train"), &[1, 0]);
    assert_eq!(first, second);
}

/// The shipped MNIST, loaded through the book's model file.
#[test]
fn shipped_mnist_loads_with_the_books_splits() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let text = std::fs::read_to_string(models.join("mnist_784_30_10.nnet")).expect("model file");
    let (file, syntax_errors) = nnc_syntax::parse(&text);
    assert!(syntax_errors.is_empty(), "{syntax_errors:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    let program = checked.program;
    let spec = program.data("mnist").expect("data block");
    let model = program.model("mnist_784_30_10").expect("model");

    let started = std::time::Instant::now();
    let data = match load(spec, &models, Some(model)) {
        Ok(data) => data,
        Err(errors) => panic!("{errors:#?}"),
    };
    eprintln!("MNIST loaded in {:.3} s", started.elapsed().as_secs_f64());

    let train = data.train.as_ref().expect("train");
    let validation = data.validation.as_ref().expect("validation");
    let test = data.test.as_ref().expect("test");
    assert_eq!(
        (train.len(), validation.len(), test.len()),
        (50_000, 10_000, 10_000)
    );
    assert_eq!(validation.source_range(), 50_000..60_000);
    assert_eq!((train.input_len(), train.target_len()), (784, 10));
    assert_eq!(train.class(0), Some(5));
    assert_eq!(test.class(0), Some(7));

    let (inputs, targets) = batch(train, &[0, 1, 2]);
    assert_eq!(inputs.len(), 3 * 784);
    assert!(inputs.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(inputs.contains(&1.0));
    assert_eq!(&targets[..10], &one_hot_row(5, 10)[..]);
    assert_eq!(&targets[10..20], &one_hot_row(0, 10)[..]);
    // The counts of each class in the test set sum to 10,000; 1 is the most
    // frequent digit.
    let mut counts = [0usize; 10];
    for c in test.class_labels().expect("classes") {
        counts[c as usize] += 1;
    }
    assert_eq!(counts.iter().sum::<usize>(), 10_000);
    assert_eq!(counts[1], 1135);
}

/// Every data fixture of the workspace: the clean ones (and the lints'
/// fixtures) load, and the broken ones fail to load with exactly the facts
/// `nnc check --data` gives.
#[test]
fn fixtures_load_with_the_facts_inspection_gives() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut seen = 0;
    for kind in ["ok", "err"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(kind))
            .expect("fixtures")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "nnet"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).expect("fixture");
            let (file, syntax_errors) = nnc_syntax::parse(&text);
            let checked = nnc_check::check(&file);
            if !syntax_errors.is_empty() || checked.has_errors() {
                continue;
            }
            let program = &checked.program;
            let [spec] = program.data.as_slice() else {
                continue;
            };
            let base = path.parent().expect("folder");
            let train = program.trains.iter().find(|t| t.data == spec.name);
            // A game's data are loaded for its steps' `real`.
            let view = train.and_then(|t| t.data_view());
            let model = view
                .as_ref()
                .or_else(|| train.and_then(|t| program.model(&t.model)));
            let inspected = nnc_data::inspect(program, base);
            let loaded = load(spec, base, model).err().unwrap_or_default();
            assert_eq!(loaded, inspected, "{}", path.display());
            // A lint's fixture (`W...`) has clean data: its finding is a
            // warning of the model, not of the data.
            let lint = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('W'));
            assert_eq!(
                kind == "ok" || lint,
                loaded.is_empty(),
                "{}",
                path.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= 20, "only {seen} data fixtures");
}
