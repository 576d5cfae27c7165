//! IDX files (the MNIST format), plain or gzip-compressed.
//!
//! Layout: two zero bytes, a type byte ([`IdxType`]), the number of
//! dimensions `n`, then `n` big-endian `u32` dimensions, then
//! `product(dims)` big-endian values of the type. The first dimension is the
//! number of examples.

use crate::open::{open_data_file, read_counted, DataFile, ReadFailure};
use nnc_diag::data::{FileProblem, IdxType, NotIdxReason};
use std::io;
use std::path::Path;

/// How many bytes past the promised payload are counted in a gzip file
/// before giving up (the file is reported as "at least" that long).
const OVERRUN_LIMIT: u64 = 64 * 1024 * 1024;

/// Bytes decoded per read when streaming values.
const CHUNK: usize = 64 * 1024;

/// The header of an IDX file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxHeader {
    pub element: IdxType,
    /// All dimensions; the first is the number of examples. Never empty.
    pub dims: Vec<u32>,
    /// Whether the file is gzip-compressed.
    pub gzip: bool,
}

impl IdxHeader {
    /// Bytes before the values: 4 + 4 per dimension.
    pub fn header_len(&self) -> u64 {
        4 + 4 * self.dims.len() as u64
    }

    /// The number of examples (the first dimension).
    pub fn count(&self) -> u64 {
        self.dims.first().map_or(0, |d| u64::from(*d))
    }

    /// The dimensions of one example (all but the first).
    pub fn example_dims(&self) -> &[u32] {
        self.dims.get(1..).unwrap_or(&[])
    }

    /// The shape of one example as a model shape.
    pub fn example_shape(&self) -> Vec<usize> {
        self.example_dims().iter().map(|d| *d as usize).collect()
    }

    /// Values in one example, if it fits in a `u64`.
    pub fn example_len(&self) -> Option<u64> {
        self.example_dims()
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(u64::from(*d)))
    }

    /// Values in the whole file, if it fits in a `u64`.
    pub fn value_count(&self) -> Option<u64> {
        self.dims
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(u64::from(*d)))
    }

    /// Bytes after the header, if it fits in a `u64`.
    pub fn payload_len(&self) -> Option<u64> {
        self.value_count()?.checked_mul(self.element.size())
    }

    fn size_problem(&self, actual: u64, at_least: bool, stream_ended: bool) -> FileProblem {
        FileProblem::IdxSize {
            dims: self.dims.clone(),
            element: self.element,
            gzip: self.gzip,
            header_len: self.header_len(),
            actual,
            at_least,
            stream_ended,
        }
    }
}

/// An open IDX file positioned after its header, for streaming its values.
pub struct IdxReader {
    header: IdxHeader,
    file: DataFile,
    /// Payload bytes consumed so far.
    consumed: u64,
}

/// Opens an IDX file and reads its header.
pub fn open_idx(path: &Path) -> Result<IdxReader, FileProblem> {
    let mut file = open_data_file(path)?;
    let header = parse_header(&mut file)?;
    Ok(IdxReader {
        header,
        file,
        consumed: 0,
    })
}

/// Reads the header of an IDX file (gzip detected by its magic bytes).
pub fn read_idx_header(path: &Path) -> Result<IdxHeader, FileProblem> {
    open_idx(path).map(|r| r.header)
}

/// Checks that the payload of an IDX file has exactly the length its header
/// promises; returns the header. Plain files are measured by their length,
/// gzip files by decompressing and counting (nothing is kept in memory).
pub fn check_idx_file(path: &Path) -> Result<IdxHeader, FileProblem> {
    let mut reader = open_idx(path)?;
    let actual = if reader.header.gzip {
        reader.count_payload()?
    } else {
        let actual = reader
            .file
            .file_len()
            .saturating_sub(reader.header.header_len());
        (actual, false, false)
    };
    match reader.header.payload_len() {
        Some(expected) if actual == (expected, false, false) => Ok(reader.header),
        _ => Err(reader.header.size_problem(actual.0, actual.1, actual.2)),
    }
}

/// What a scan of a labels file found.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelStats {
    /// Number of values read.
    pub count: u64,
    /// Smallest and largest value; `None` when there are none.
    pub range: Option<(f64, f64)>,
    /// The first value that is not a class index (a whole number `>= 0`),
    /// with its position (0-based).
    pub first_non_class: Option<(u64, f64)>,
}

impl LabelStats {
    pub fn new() -> Self {
        LabelStats {
            count: 0,
            range: None,
            first_non_class: None,
        }
    }

    /// Adds one label value.
    pub fn add(&mut self, value: f64) {
        let position = self.count;
        self.count += 1;
        self.range = Some(match self.range {
            Some((lo, hi)) => (lo.min(value), hi.max(value)),
            None => (value, value),
        });
        if self.first_non_class.is_none() && !is_class_index(value) {
            self.first_non_class = Some((position, value));
        }
    }
}

impl Default for LabelStats {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a value can be a class index: a whole number `>= 0`.
pub fn is_class_index(value: f64) -> bool {
    value.is_finite() && value >= 0.0 && value.fract() == 0.0
}

/// Reads every value of a labels file, checking its size on the way.
/// Memory use is bounded by the read buffer.
pub fn scan_idx_labels(path: &Path) -> Result<(IdxHeader, LabelStats), FileProblem> {
    let mut reader = open_idx(path)?;
    let mut stats = LabelStats::new();
    let total = reader.header.value_count().unwrap_or(u64::MAX);
    let mut buf = vec![0f64; CHUNK / 8];
    let mut left = total;
    while left > 0 {
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let chunk = buf.get_mut(..n).unwrap_or(&mut []);
        reader.read_f64(chunk)?;
        for value in chunk.iter() {
            stats.add(*value);
        }
        left -= n as u64;
    }
    reader.expect_end()?;
    Ok((reader.header, stats))
}

impl IdxReader {
    pub fn header(&self) -> &IdxHeader {
        &self.header
    }

    /// Reads exactly `out.len()` payload bytes as they are: for a `u8` file,
    /// the values themselves, with no conversion.
    pub fn read_bytes(&mut self, out: &mut [u8]) -> Result<(), FileProblem> {
        let (got, err) = read_counted(self.file.reader(), out);
        self.consumed += got as u64;
        if let Some(e) = err {
            return Err(self.payload_error(&e));
        }
        if got < out.len() {
            return Err(self.short_payload());
        }
        Ok(())
    }

    /// Reads exactly `out.len()` values, converted to `f32`.
    pub fn read_f32(&mut self, out: &mut [f32]) -> Result<(), FileProblem> {
        let mut at = 0;
        self.read_values(out.len(), |v| {
            if let Some(slot) = out.get_mut(at) {
                *slot = v as f32;
            }
            at += 1;
        })
    }

    /// Reads exactly `out.len()` values, converted to `f64`.
    pub fn read_f64(&mut self, out: &mut [f64]) -> Result<(), FileProblem> {
        let mut at = 0;
        self.read_values(out.len(), |v| {
            if let Some(slot) = out.get_mut(at) {
                *slot = v;
            }
            at += 1;
        })
    }

    /// Checks that no bytes follow the values read so far (call after
    /// reading the whole payload).
    pub fn expect_end(&mut self) -> Result<(), FileProblem> {
        let consumed = self.consumed;
        let (total, at_least, ended) = self.count_payload()?;
        if total == consumed && !at_least && !ended {
            Ok(())
        } else {
            Err(self.header.size_problem(total, at_least, ended))
        }
    }

    /// The size fact of a file whose payload does not fit what was read:
    /// the rest of the stream is counted (bounded) to say how long it is.
    pub fn size_problem(&mut self) -> FileProblem {
        match self.count_payload() {
            Ok((total, at_least, ended)) => self.header.size_problem(total, at_least, ended),
            Err(problem) => problem,
        }
    }

    /// Decodes `count` values, handing each to `sink`.
    fn read_values(&mut self, count: usize, mut sink: impl FnMut(f64)) -> Result<(), FileProblem> {
        let size = self.header.element.size() as usize;
        let mut bytes = vec![0u8; CHUNK - CHUNK % size];
        let mut left = count;
        while left > 0 {
            let want = left.saturating_mul(size).min(bytes.len());
            let buf = bytes.get_mut(..want).unwrap_or(&mut []);
            let (got, err) = read_counted(self.file.reader(), buf);
            self.consumed += got as u64;
            if let Some(e) = err {
                return Err(self.payload_error(&e));
            }
            if got < want {
                return Err(self.short_payload());
            }
            for value in buf.chunks_exact(size) {
                sink(decode(self.header.element, value));
            }
            left -= want / size;
        }
        Ok(())
    }

    /// Counts the payload bytes from the current position to the end, adding
    /// those already consumed. Returns (bytes, stopped early, stream cut off).
    fn count_payload(&mut self) -> Result<(u64, bool, bool), FileProblem> {
        let limit = self
            .header
            .payload_len()
            .map_or(OVERRUN_LIMIT, |p| p.saturating_add(OVERRUN_LIMIT));
        let mut buf = vec![0u8; CHUNK];
        loop {
            if self.consumed > limit {
                return Ok((self.consumed, true, false));
            }
            match self.file.reader().read(&mut buf) {
                Ok(0) => return Ok((self.consumed, false, false)),
                Ok(n) => self.consumed += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let after = self.header.header_len() + self.consumed;
                    return match self.file.read_problem(&e, after) {
                        ReadFailure::GzipEndsEarly => Ok((self.consumed, false, true)),
                        ReadFailure::Problem(p) => Err(p),
                    };
                }
            }
        }
    }

    fn payload_error(&self, err: &io::Error) -> FileProblem {
        let after = self.header.header_len() + self.consumed;
        match self.file.read_problem(err, after) {
            ReadFailure::GzipEndsEarly => self.header.size_problem(self.consumed, false, true),
            ReadFailure::Problem(p) => p,
        }
    }

    fn short_payload(&self) -> FileProblem {
        self.header.size_problem(self.consumed, false, false)
    }
}

/// Decodes one big-endian value; `bytes` has exactly the element's size.
fn decode(element: IdxType, bytes: &[u8]) -> f64 {
    let mut b = [0u8; 8];
    for (dst, src) in b.iter_mut().zip(bytes) {
        *dst = *src;
    }
    match element {
        IdxType::U8 => f64::from(b[0]),
        IdxType::I8 => f64::from(b[0] as i8),
        IdxType::I16 => f64::from(i16::from_be_bytes([b[0], b[1]])),
        IdxType::I32 => f64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        IdxType::F32 => f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        IdxType::F64 => f64::from_be_bytes(b),
    }
}

/// Reads bytes for the header. A gzip stream cut off inside the header
/// counts as the end of the file; the bytes before the cut are kept.
fn header_bytes(file: &mut DataFile, buf: &mut [u8], before: u64) -> Result<usize, FileProblem> {
    let (got, err) = read_counted(file.reader(), buf);
    match err.map(|e| file.read_problem(&e, before + got as u64)) {
        None | Some(ReadFailure::GzipEndsEarly) => Ok(got),
        Some(ReadFailure::Problem(p)) => Err(p),
    }
}

fn parse_header(file: &mut DataFile) -> Result<IdxHeader, FileProblem> {
    let gzip = file.is_gzip();
    let mut magic = [0u8; 4];
    let got = header_bytes(file, &mut magic, 0)?;
    let found = magic.get(..got).unwrap_or(&[]).to_vec();
    let not_idx = |reason| FileProblem::NotIdx {
        found: found.clone(),
        gzip,
        reason,
    };
    if got >= 2 && (magic[0] != 0 || magic[1] != 0) {
        return Err(not_idx(NotIdxReason::BadMagic));
    }
    if got < 4 {
        return Err(not_idx(NotIdxReason::EndsInHeader {
            needed: 4,
            available: got as u64,
        }));
    }
    let Some(element) = IdxType::from_code(magic[2]) else {
        return Err(not_idx(NotIdxReason::UnknownType(magic[2])));
    };
    let rank = usize::from(magic[3]);
    if rank == 0 {
        return Err(not_idx(NotIdxReason::NoDimensions));
    }
    let mut raw = vec![0u8; 4 * rank];
    let got = header_bytes(file, &mut raw, 4)?;
    if got < raw.len() {
        let needed = 4 + raw.len() as u64;
        return Err(not_idx(NotIdxReason::EndsInHeader {
            needed,
            available: 4 + got as u64,
        }));
    }
    let dims = raw
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(IdxHeader {
        element,
        dims,
        gzip,
    })
}
