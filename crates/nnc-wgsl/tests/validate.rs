//! Every shader emitted for every model in `models/` and every fixture in
//! `tests/fixtures/ok` parses and validates with naga, and every program
//! keeps the structural invariants the executor relies on
//! (`ShaderProgram::check`): training graphs of every phase at the
//! phase's batch size and at a short last batch, and inference graphs;
//! also the unfused graphs (every op a kernel of its own).

use nnc_check::program::Optimizer;
use nnc_ir::Graph;
use nnc_lower::backend::TrainSetup;
use nnc_wgsl::{emit, validate, ShaderProgram, Target};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn nnet_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nnet"))
        .collect();
    files.sort();
    files
}

/// Every graph the test covers for one file: `(label, fused graph, the
/// same graph unfused)`.
fn graphs(path: &PathBuf) -> Vec<(String, Graph, Option<Graph>)> {
    let source = std::fs::read_to_string(path).unwrap();
    let (file, syntax) = nnc_syntax::parse(&source);
    assert!(syntax.is_empty(), "{}: syntax errors", path.display());
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{}: check errors", path.display());
    let program = checked.program;
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut out = Vec::new();
    for (spec, model, optimizers) in program.trains.iter().flat_map(|t| {
        t.trained_graphs(&program)
            .into_iter()
            .map(move |(m, o)| (t, m, o))
    }) {
        for (k, (phase, optimizer)) in spec.phases.iter().zip(optimizers).enumerate() {
            let batch = phase.batch_size;
            let mut sizes = vec![batch];
            if batch > 1 {
                sizes.push((batch / 3).max(1));
            }
            for size in sizes {
                let setup = TrainSetup {
                    model,
                    optimizer,
                    batch_size: size,
                    train_size: 1000,
                    clip: Default::default(),
                };
                let graph = nnc_lower::compile_training_fused(&setup, size, None).unwrap();
                let plain = nnc_lower::compile_training(&setup, size, None).unwrap();
                out.push((
                    format!(
                        "{name} {} phase {} training batch {size}",
                        model.name,
                        k + 1
                    ),
                    graph,
                    Some(plain),
                ));
            }
        }
        let batch = spec.phases.first().map_or(4, |p| p.batch_size);
        let graph = nnc_lower::compile_inference_fused(model, batch, None).unwrap();
        let plain = nnc_lower::compile_inference(model, batch, None).unwrap();
        out.push((
            format!("{name} {} inference batch {batch}", model.name),
            graph,
            Some(plain),
        ));
    }
    // Models without a train block: inference, and a plain SGD step.
    for model in &program.models {
        if program.trains.iter().any(|t| t.model == model.name) {
            continue;
        }
        let graph = nnc_lower::compile_inference_fused(model, 4, None).unwrap();
        out.push((
            format!("{name} {} inference batch 4", model.name),
            graph,
            None,
        ));
        if model.cost.is_some() {
            let setup = TrainSetup {
                model,
                optimizer: &Optimizer::Sgd,
                batch_size: 4,
                train_size: 1000,
                clip: Default::default(),
            };
            if let Ok(graph) = nnc_lower::compile_training_fused(&setup, 4, None) {
                out.push((
                    format!("{name} {} sgd training batch 4", model.name),
                    graph,
                    None,
                ));
            }
        }
    }
    out
}

fn check_all(target: &Target) -> usize {
    let mut files = nnet_files("models");
    files.extend(nnet_files("tests/fixtures/ok"));
    let mut kernels = 0;
    for path in files {
        for (label, graph, plain) in graphs(&path) {
            let program: ShaderProgram =
                emit(&graph, target).unwrap_or_else(|e| panic!("{label}: {e}"));
            program
                .check(target)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            validate(&program).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert!(!program.dispatches.is_empty(), "{label}: no dispatch");
            kernels += program.kernels.len();
            // The same graph before fusion: every op a one-op kernel.
            if let Some(unfused) = plain {
                let program =
                    emit(&unfused, target).unwrap_or_else(|e| panic!("{label} unfused: {e}"));
                program
                    .check(target)
                    .unwrap_or_else(|e| panic!("{label} unfused: {e}"));
                validate(&program).unwrap_or_else(|e| panic!("{label} unfused: {e}"));
            }
        }
    }
    kernels
}

#[test]
fn every_model_and_fixture_emits_valid_shaders_for_the_default_target() {
    let kernels = check_all(&Target::default());
    assert!(kernels > 100, "only {kernels} kernels");
}

#[test]
fn every_model_and_fixture_emits_valid_shaders_for_a_desktop_target() {
    let target = Target {
        max_workgroup_size_x: 1024,
        max_invocations_per_workgroup: 1024,
        max_storage_buffer_binding_size: 2 << 30,
        max_buffer_size: 4 << 30,
        min_storage_buffer_offset_alignment: 64,
        max_storage_buffers_per_shader_stage: 16,
        max_workgroup_storage_size: 32768,
        ..Target::default()
    };
    check_all(&target);
}
