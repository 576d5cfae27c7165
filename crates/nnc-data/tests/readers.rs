//! The reading layer: IDX headers, sizes and values; CSV and folder
//! inspection; damaged and arbitrary files never panic.

mod common;

use common::*;
use nnc_check::program::LabelColumn;
use nnc_data::{
    check_idx_file, class_images, inspect_csv, inspect_folder, open_idx, read_idx_header,
    scan_idx_labels, CsvOptions, IdxType,
};
use nnc_diag::data::{CsvProblem, FileProblem, FolderProblem, NotIdxReason};

#[test]
fn reads_plain_and_gzip_headers() {
    let dir = TempDir::new("headers");
    let bytes = idx_u8(&[3, 2, 2], 256);
    let plain = dir.write("plain.idx", &bytes);
    let zipped = dir.write("zipped.idx.gz", &gzip(&bytes));
    for (path, gz) in [(plain, false), (zipped, true)] {
        let header = read_idx_header(&path).expect("header");
        assert_eq!(header.element, IdxType::U8);
        assert_eq!(header.dims, vec![3, 2, 2]);
        assert_eq!(header.gzip, gz);
        assert_eq!(header.count(), 3);
        assert_eq!(header.example_shape(), vec![2, 2]);
        assert_eq!(header.header_len(), 16);
        assert_eq!(header.payload_len(), Some(12));
        assert_eq!(check_idx_file(&path).expect("size"), header);
    }
}

#[test]
fn gzip_is_detected_by_magic_not_by_name() {
    let dir = TempDir::new("magic");
    let bytes = idx_u8(&[4], 10);
    let gz_named_plain = dir.write("labels.idx", &gzip(&bytes));
    let plain_named_gz = dir.write("labels.gz", &bytes);
    assert!(read_idx_header(&gz_named_plain).expect("gz").gzip);
    assert!(!read_idx_header(&plain_named_gz).expect("plain").gzip);
    assert!(check_idx_file(&gz_named_plain).is_ok());
    assert!(check_idx_file(&plain_named_gz).is_ok());
}

#[test]
fn every_element_type_decodes() {
    let dir = TempDir::new("types");
    let cases: [(u8, Vec<u8>, f64); 6] = [
        (0x08, vec![200], 200.0),
        (0x09, vec![0xFF], -1.0),
        (0x0B, (-300i16).to_be_bytes().to_vec(), -300.0),
        (0x0C, 70000i32.to_be_bytes().to_vec(), 70000.0),
        (0x0D, 1.5f32.to_be_bytes().to_vec(), 1.5),
        (0x0E, (-2.25f64).to_be_bytes().to_vec(), -2.25),
    ];
    for (code, payload, expected) in cases {
        let path = dir.write(&format!("t{code}.idx"), &idx_bytes(code, &[1], &payload));
        let header = check_idx_file(&path).expect("size");
        assert_eq!(header.element.code(), code);
        let mut reader = open_idx(&path).expect("open");
        let mut out = [0f64; 1];
        reader.read_f64(&mut out).expect("read");
        assert_eq!(out[0], expected, "type {code:#04x}");
        reader.expect_end().expect("end");
    }
}

#[test]
fn reader_streams_values_as_f32() {
    let dir = TempDir::new("stream");
    let path = dir.write("img.gz", &gzip(&idx_u8(&[2, 3], 256)));
    let mut reader = open_idx(&path).expect("open");
    let mut first = [0f32; 3];
    let mut second = [0f32; 3];
    reader.read_f32(&mut first).expect("first");
    reader.read_f32(&mut second).expect("second");
    assert_eq!(first, [0.0, 1.0, 2.0]);
    assert_eq!(second, [3.0, 4.0, 5.0]);
    reader.expect_end().expect("nothing after");
    let mut more = [0f32; 1];
    assert!(matches!(
        reader.read_f32(&mut more),
        Err(FileProblem::IdxSize { actual: 6, .. })
    ));
}

#[test]
fn label_scan_finds_range_and_non_classes() {
    let dir = TempDir::new("labels");
    let path = dir.write("l.idx", &idx_u8(&[25], 10));
    let (header, stats) = scan_idx_labels(&path).expect("scan");
    assert_eq!(header.count(), 25);
    assert_eq!(stats.count, 25);
    assert_eq!(stats.range, Some((0.0, 9.0)));
    assert_eq!(stats.first_non_class, None);
    let negative = dir.write("n.idx", &idx_bytes(0x09, &[3], &[1, 0xFE, 2]));
    let (_, stats) = scan_idx_labels(&negative).expect("scan");
    assert_eq!(stats.first_non_class, Some((1, -2.0)));
}

#[test]
fn not_idx_reports_the_magic() {
    let dir = TempDir::new("notidx");
    let cases: [(&str, Vec<u8>, NotIdxReason); 5] = [
        ("zip", b"PK\x03\x04rest".to_vec(), NotIdxReason::BadMagic),
        (
            "type",
            vec![0, 0, 0x0A, 1, 0, 0, 0, 1, 5],
            NotIdxReason::UnknownType(0x0A),
        ),
        ("rank", vec![0, 0, 0x08, 0], NotIdxReason::NoDimensions),
        (
            "short",
            vec![0, 0, 0x08, 3, 0, 0, 0, 1],
            NotIdxReason::EndsInHeader {
                needed: 16,
                available: 8,
            },
        ),
        (
            "empty",
            vec![],
            NotIdxReason::EndsInHeader {
                needed: 4,
                available: 0,
            },
        ),
    ];
    for (name, bytes, reason) in cases {
        let path = dir.write(name, &bytes);
        match read_idx_header(&path) {
            Err(FileProblem::NotIdx { reason: got, .. }) => assert_eq!(got, reason, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    match read_idx_header(&dir.write("zip2", b"PK\x03\x04")) {
        Err(FileProblem::NotIdx {
            found, gzip: false, ..
        }) => assert_eq!(found, b"PK\x03\x04".to_vec()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn size_mismatch_counts_the_payload() {
    let dir = TempDir::new("size");
    let mut bytes = idx_u8(&[10, 4, 4], 256);
    bytes.truncate(bytes.len() - 6);
    let plain = dir.write("short.idx", &bytes);
    let zipped = dir.write("short.gz", &gzip(&bytes));
    for path in [plain, zipped] {
        match check_idx_file(&path) {
            Err(FileProblem::IdxSize {
                actual,
                at_least: false,
                stream_ended: false,
                header_len: 16,
                ..
            }) => {
                assert_eq!(actual, 154);
            }
            other => panic!("{other:?}"),
        }
    }
    let mut long = idx_u8(&[2], 256);
    long.extend_from_slice(&[7, 7, 7]);
    match check_idx_file(&dir.write("long.gz", &gzip(&long))) {
        Err(FileProblem::IdxSize { actual: 5, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_gzip_is_a_clear_error() {
    let dir = TempDir::new("truncated");
    let full = gzip(&idx_u8(&[200, 28, 28], 251));
    for keep in [1, 2, 5, 12, 20, full.len() / 2, full.len() - 4] {
        let path = dir.write("cut.gz", full.get(..keep).expect("prefix"));
        let result = check_idx_file(&path);
        assert!(result.is_err(), "cut at {keep}: {result:?}");
        let problem = result.expect_err("error");
        assert!(
            matches!(
                problem,
                FileProblem::IdxSize {
                    stream_ended: true,
                    ..
                } | FileProblem::NotIdx { .. }
                    | FileProblem::CorruptGzip { .. }
            ),
            "cut at {keep}: {problem:?}"
        );
    }
    let half = dir.write("half.gz", full.get(..full.len() / 2).expect("half"));
    match check_idx_file(&half) {
        Err(FileProblem::IdxSize {
            stream_ended: true,
            actual,
            ..
        }) => assert!(actual < 200 * 784),
        other => panic!("{other:?}"),
    }
}

#[test]
fn corrupt_gzip_is_a_clear_error() {
    let dir = TempDir::new("corrupt");
    let mut bytes = gzip(&idx_u8(&[50, 28, 28], 7));
    let middle = bytes.len() / 2;
    for b in bytes.iter_mut().skip(middle).take(16) {
        *b ^= 0x5A;
    }
    let path = dir.write("bad.gz", &bytes);
    let problem = check_idx_file(&path).expect_err("error");
    assert!(
        matches!(
            problem,
            FileProblem::CorruptGzip { .. } | FileProblem::IdxSize { .. }
        ),
        "{problem:?}"
    );
    let garbage = dir.write(
        "garbage.gz",
        &[0x1F, 0x8B, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    let problem = read_idx_header(&garbage).expect_err("error");
    assert!(
        matches!(
            problem,
            FileProblem::CorruptGzip { .. } | FileProblem::NotIdx { .. }
        ),
        "{problem:?}"
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    let dir = TempDir::new("fuzz");
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let valid = gzip(&idx_u8(&[3, 2], 9));
    for round in 0..300 {
        let len = (next() % 40) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        match round % 3 {
            0 => bytes
                .splice(0..0, [0, 0, 0x08, (next() % 4) as u8])
                .for_each(drop),
            1 => {
                bytes = valid.clone();
                let at = (next() as usize) % bytes.len();
                if let Some(b) = bytes.get_mut(at) {
                    *b = next() as u8;
                }
            }
            _ => {}
        }
        let path = dir.write("fuzz.bin", &bytes);
        let _ = check_idx_file(&path);
        let _ = scan_idx_labels(&path);
        let options = CsvOptions {
            label: Some(LabelColumn::Index(0)),
            header: round % 2 == 0,
            labelled: round % 3 != 0,
        };
        let _ = inspect_csv(&path, &options);
    }
}

#[test]
fn missing_file_is_not_found() {
    let dir = TempDir::new("missing");
    let problem = read_idx_header(&dir.join("nope.idx")).expect_err("error");
    match problem {
        FileProblem::NotFound(missing) => assert_eq!(missing.missing, "nope.idx"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        read_idx_header(&dir.path).err(),
        Some(FileProblem::NotAFile)
    );
}

fn csv_options(label: impl Into<Option<LabelColumn>>, header: bool) -> CsvOptions {
    CsvOptions {
        label: label.into(),
        header,
        labelled: true,
    }
}

#[test]
fn csv_summary_counts_rows_and_labels() {
    let dir = TempDir::new("csv");
    let path = dir.write(
        "d.csv",
        b"\xEF\xBB\xBFa,\"label\",b\r\n1,0,2\r\n\r\n3.5,2, 4\n-1,1,1e3\n",
    );
    let summary =
        inspect_csv(&path, &csv_options(LabelColumn::Name("label".into()), true)).expect("csv");
    assert_eq!(summary.columns, 3);
    assert_eq!(summary.features(), 2);
    assert_eq!(summary.label_index, Some(1));
    assert_eq!(summary.rows, 3);
    assert_eq!(
        summary.names,
        Some(vec!["a".into(), "label".into(), "b".into()])
    );
    assert_eq!(summary.labels.range, Some((0.0, 2.0)));
    let gz = dir.write("d.csv.gz", &gzip(b"0,1,2\n1,3,4\n"));
    let summary = inspect_csv(&gz, &csv_options(LabelColumn::Index(0), false)).expect("gz csv");
    assert_eq!(summary.rows, 2);
}

/// A table read without a label column (`csv(path)` of `labels none`
/// data): every column is a feature, one column included, and no label is
/// collected; a malformed file is refused as a labelled one is.
#[test]
fn csv_without_a_label_column_is_all_features() {
    let dir = TempDir::new("csvnolabel");
    let options = |header| CsvOptions {
        label: None,
        header,
        labelled: true,
    };
    let path = dir.write("f.csv", b"a,b,c\n0.5,1,2\n3,4,5\n");
    let mut rows = Vec::new();
    let summary = nnc_data::read_csv(&path, &options(true), |cells, label| {
        rows.push((cells.to_vec(), label));
    })
    .expect("csv");
    assert_eq!((summary.columns, summary.features()), (3, 3));
    assert_eq!((summary.label_index, summary.rows), (None, 2));
    assert_eq!(summary.labels.range, None);
    assert_eq!(rows[0], (vec![0.5, 1.0, 2.0], None));
    let single = dir.write("one.csv", b"5\n6\n");
    let summary = inspect_csv(&single, &options(false)).expect("one column");
    assert_eq!((summary.features(), summary.rows), (1, 2));
    let ragged = dir.write("ragged.csv", b"1,2\n3\n");
    assert_eq!(
        inspect_csv(&ragged, &options(false)).err(),
        Some(FileProblem::Csv(CsvProblem::RaggedRow {
            line: 2,
            found: 1,
            expected: 2,
            first_line: 1,
        }))
    );
    let text = dir.write("text.csv", b"x,y\n1,no\n");
    assert!(matches!(
        inspect_csv(&text, &options(true)),
        Err(FileProblem::Csv(CsvProblem::NotNumeric {
            line: 2,
            column: 2,
            ..
        }))
    ));
}

#[test]
fn csv_problems_name_line_and_column() {
    let dir = TempDir::new("csvbad");
    let name = |n: &str| LabelColumn::Name(n.into());
    let cases: Vec<(&str, &[u8], CsvOptions, CsvProblem)> = vec![
        (
            "ragged",
            b"a,b,c\n1,2,3\n4,5\n",
            csv_options(name("a"), true),
            CsvProblem::RaggedRow {
                line: 3,
                found: 2,
                expected: 3,
                first_line: 1,
            },
        ),
        (
            "text",
            b"a,b\n1,2\n3,x7\n",
            csv_options(name("a"), true),
            CsvProblem::NotNumeric {
                line: 3,
                column: 2,
                column_name: Some("b".into()),
                cell: "x7".into(),
                header: true,
            },
        ),
        (
            "nan",
            b"1,NaN\n",
            csv_options(LabelColumn::Index(0), false),
            CsvProblem::NotNumeric {
                line: 1,
                column: 2,
                column_name: None,
                cell: "NaN".into(),
                header: false,
            },
        ),
        (
            "nocol",
            b"pixel,lable\n1,2\n",
            csv_options(name("label"), true),
            CsvProblem::NoSuchColumn {
                name: "label".into(),
                columns: vec!["pixel".into(), "lable".into()],
            },
        ),
        (
            "twice",
            b"y,x,y\n1,2,3\n",
            csv_options(name("y"), true),
            CsvProblem::AmbiguousColumn {
                name: "y".into(),
                first: 1,
                second: 3,
            },
        ),
        (
            "noheader",
            b"1,2\n",
            csv_options(name("y"), false),
            CsvProblem::NamedLabelWithoutHeader { name: "y".into() },
        ),
        (
            "index",
            b"1,2\n",
            csv_options(LabelColumn::Index(2), false),
            CsvProblem::LabelIndexOutOfRange {
                index: 2,
                columns: 2,
            },
        ),
        (
            "empty",
            b"a,b\n\n",
            csv_options(name("a"), true),
            CsvProblem::Empty,
        ),
        (
            "one",
            b"5\n6\n",
            csv_options(LabelColumn::Index(0), false),
            CsvProblem::NoFeatures,
        ),
        (
            "quote",
            b"1,\"2\n",
            csv_options(LabelColumn::Index(0), false),
            CsvProblem::UnterminatedQuote { line: 1 },
        ),
        (
            "utf8",
            b"1,2\n\xFF,3\n",
            csv_options(LabelColumn::Index(0), false),
            CsvProblem::NotUtf8 { line: 2 },
        ),
    ];
    for (name, bytes, options, expected) in cases {
        let path = dir.write(&format!("{name}.csv"), bytes);
        assert_eq!(
            inspect_csv(&path, &options),
            Err(FileProblem::Csv(expected)),
            "{name}"
        );
    }
}

#[test]
fn folder_classes_are_sorted_and_counted() {
    let dir = TempDir::new("folder");
    dir.write("imgs/dog/a.png", &png(4, 4));
    dir.write("imgs/dog/b.JPG", &png(4, 4));
    dir.write("imgs/cat/c.jpeg", &png(2, 3));
    dir.write("imgs/cat/notes.txt", b"hi");
    dir.write("imgs/.hidden/x.png", &png(1, 1));
    dir.write("imgs/README", b"readme");
    let summary = inspect_folder(&dir.join("imgs")).expect("folder");
    assert_eq!(
        summary.class_names(),
        vec!["cat".to_string(), "dog".to_string()]
    );
    assert_eq!(summary.examples(), 3);
    let dogs = class_images(&dir.join("imgs/dog")).expect("images");
    assert_eq!(
        dogs,
        vec![dir.join("imgs/dog/a.png"), dir.join("imgs/dog/b.JPG")]
    );
}

#[test]
fn folder_problems() {
    let dir = TempDir::new("folderbad");
    dir.write("flat/a.png", &png(2, 2));
    assert_eq!(
        inspect_folder(&dir.join("flat")),
        Err(FileProblem::Folder(FolderProblem::NoClassFolders {
            files: 1
        }))
    );
    dir.write("gap/one/a.png", &png(2, 2));
    dir.write("gap/two/a.gif", b"GIF89a");
    assert_eq!(
        inspect_folder(&dir.join("gap")),
        Err(FileProblem::Folder(FolderProblem::EmptyClass {
            class: "two".into(),
            other_files: 1
        }))
    );
    assert_eq!(
        inspect_folder(&dir.join("flat/a.png")),
        Err(FileProblem::NotAFolder)
    );
}

#[test]
fn png_writer_makes_valid_files() {
    let bytes = png(3, 2);
    assert_eq!(
        bytes.get(..8),
        Some(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..])
    );
    // Every chunk's CRC is checked by decoders; recompute one by hand.
    assert_eq!(bytes.get(12..16), Some(&b"IHDR"[..]));
}
