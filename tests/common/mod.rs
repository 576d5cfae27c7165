//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (the folder holding `models/` and `tests/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The `.nnet` files of a folder under the root, sorted by name.
pub fn nnet_files(folder: &str) -> Vec<PathBuf> {
    let dir = root().join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "nnet"))
        .collect();
    files.sort();
    files
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// The diagnostic codes a report holds, in order.
pub fn codes(report: &nnc_cli::driver::Report) -> Vec<&'static str> {
    report.diagnostics.iter().map(|d| d.code).collect()
}

/// Runs the `nnc` binary from the workspace root, without colour.
pub fn nnc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nnc"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("nnc runs")
}

/// A fresh, empty folder for one test (`suite` and `name` keep tests apart).
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nnc-{suite}-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Bytes a process printed, as text.
/// `nnc eval FILE --weights WEIGHTS --split SPLIT --format json`, which
/// must succeed: its report.
pub fn eval_json(file: &Path, weights: &Path, split: &str) -> serde_json::Value {
    let out = nnc(&[
        "eval",
        &file.display().to_string(),
        "--weights",
        &weights.display().to_string(),
        "--split",
        split,
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A CSV `x1,x2,y` of `count` points of two clusters, around (-1, -1)
/// (class 0) and (1, 1) (class 1), each coordinate moved by deterministic
/// noise uniform in `[-spread / 2, spread / 2)` (from `seed`).
pub fn points_csv(count: usize, seed: u64, spread: f64) -> String {
    use std::fmt::Write as _;
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
    };
    let mut csv = "x1,x2,y\n".to_string();
    for i in 0..count {
        let class = i % 2;
        let centre = if class == 0 { -1.0 } else { 1.0 };
        let _ = writeln!(
            csv,
            "{:.4},{:.4},{class}",
            centre + spread * noise(),
            centre + spread * noise()
        );
    }
    csv
}

/// A small deterministic generator (64-bit LCG, high bits).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }

    /// A value in `lo..hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.next() % (hi - lo)
    }
}

/// Whether a GPU device can be opened; without one the wgpu half of a test
/// is skipped (with a line on stderr), unless `NNC_REQUIRE_GPU=1` demands
/// a device.
pub fn gpu_available(test: &str) -> bool {
    match nnc_gpu::Gpu::acquire() {
        Ok(_) => true,
        Err(error) => {
            assert!(
                !std::env::var("NNC_REQUIRE_GPU").is_ok_and(|v| v == "1"),
                "NNC_REQUIRE_GPU=1 but no GPU device could be opened: {error}"
            );
            let line = format!("SKIPPED the wgpu part of {test}: {error}\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            false
        }
    }
}
