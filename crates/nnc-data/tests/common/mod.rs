//! Helpers shared by the integration tests: temporary folders, IDX, CSV and
//! PNG writers, and hand-built programs.

#![allow(dead_code)]

use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use nnc_check::program::{
    Activation, Cost, CostKind, DataSpec, LabelColumn, Labels, LayerId, Model, Node, NodeId, Op,
    Program, Source, Split, TrainSpec,
};
use nnc_diag::Span;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A folder under the system temp folder, removed when dropped.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("nnc-data-test-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    /// Writes `bytes` to `rel`, creating folders on the way.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&path, bytes).expect("write file");
        path
    }

    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let path = self.join(rel);
        std::fs::create_dir_all(&path).expect("mkdir");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// An IDX file: the header for `dims` of type `code`, then `payload`.
pub fn idx_bytes(code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// A u8 IDX file with a correct payload where value i is `i % modulo`.
pub fn idx_u8(dims: &[u32], modulo: u32) -> Vec<u8> {
    let n: u32 = dims.iter().product();
    let payload: Vec<u8> = (0..n).map(|i| (i % modulo) as u8).collect();
    idx_bytes(0x08, dims, &payload)
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip finish")
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A valid 8-bit grayscale PNG of `width` x `height` pixels.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0);
        raw.extend((0..width).map(|x| ((x + y) * 16) as u8));
    }
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(&raw).expect("zlib");
    png_chunk(&mut out, b"IDAT", &z.finish().expect("zlib finish"));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

pub fn span(start: usize, end: usize) -> Span {
    Span::new(start, end)
}

pub fn idx_source(images: &str, labels: &str) -> Source {
    Source::Idx {
        images: images.into(),
        labels: Some(labels.into()),
        span: span(10, 20),
    }
}

/// A `csv` source; `None` for a file without a label column.
pub fn csv_source(path: &str, label: impl Into<Option<LabelColumn>>, header: bool) -> Source {
    Source::Csv {
        path: path.into(),
        label: label.into(),
        header,
        span: span(10, 20),
    }
}

pub fn folder_source(path: &str, size: &[usize]) -> Source {
    Source::Folder {
        path: path.into(),
        size: size.to_vec(),
        span: span(10, 20),
    }
}

pub fn split(source: &Source, start: Option<usize>, end: Option<usize>) -> Split {
    Split {
        source: source.clone(),
        start: start.map(nnc_check::program::SliceBound::Index),
        end: end.map(nnc_check::program::SliceBound::Index),
        span: span(30, 40),
        holdout: None,
    }
}

pub fn data(name: &str, train: Option<Split>, labels: Labels) -> DataSpec {
    DataSpec {
        name: name.into(),
        span: span(0, 100),
        train,
        validation: None,
        test: None,
        scale: 1.0,
        labels,
        augment: Vec::new(),
    }
}

pub fn one_hot(classes: usize) -> Labels {
    Labels::OneHot {
        classes,
        span: span(50, 60),
    }
}

/// A model `input x: input_shape |> dense(units)` with a cost.
pub fn model(name: &str, input_shape: &[usize], units: usize) -> Model {
    let input = Node {
        name: "x".into(),
        op: Op::Input,
        inputs: vec![],
        shape: input_shape.to_vec(),
        span: span(110, 120),
    };
    let dense = Node {
        name: "dense_1".into(),
        op: Op::Dense {
            layer: LayerId(0),
            units,
            act: Activation::Softmax,
        },
        inputs: vec![NodeId(0)],
        shape: vec![units],
        span: span(130, 140),
    };
    Model {
        name: name.into(),
        span: span(100, 200),
        inputs: vec![NodeId(0)],
        outputs: vec![("output".into(), NodeId(1))],
        nodes: vec![input, dense],
        layers: vec![],
        cost: Some(Cost {
            kind: CostKind::LogLikelihood,
            output: NodeId(1),
            target: None,
            weight: 1.0,
            span: span(150, 160),
        }),
        input_costs: vec![],
        penalties: vec![],
        cost_name: None,
        regularizers: vec![],
        zero_states: vec![],
        carry: false,
        unrolls: vec![],
    }
}

pub fn train(model: &str, data: &str) -> TrainSpec {
    TrainSpec {
        model: model.into(),
        data: data.into(),
        span: span(200, 300),
        epochs: 1,
        clip: Default::default(),
        seed: 0,
        phases: vec![],
        decay: None,
        early_stop: None,
        metrics: vec![],
        keep_best: None,
        players: Vec::new(),
        steps: Vec::new(),
        bptt: None,
    }
}

/// A program of one data block, trained on by `model` when given.
pub fn program(data: DataSpec, model: Option<Model>) -> Program {
    let trains = model.iter().map(|m| train(&m.name, &data.name)).collect();
    Program {
        models: model.into_iter().collect(),
        data: vec![data],
        trains,
    }
}

pub fn codes(errors: &[nnc_diag::data::DataError]) -> Vec<&'static str> {
    errors.iter().map(|e| e.code()).collect()
}

pub fn base(dir: &TempDir) -> &Path {
    &dir.path
}
