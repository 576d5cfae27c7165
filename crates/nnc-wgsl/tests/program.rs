//! The structural invariants of a `ShaderProgram` (what
//! `ShaderProgram::check` verifies, and that it notices when they break),
//! the errors for devices too small, and determinism.

use nnc_check::program::{Model, Optimizer};
use nnc_ir::{Graph, InputKind, OutputKind};
use nnc_lower::backend::TrainSetup;
use nnc_wgsl::{emit, emit_with, BindingKind, BufferRole, EmitError, EmitOptions, Target};

fn model(path: &str) -> Model {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let source = std::fs::read_to_string(root.join(path)).unwrap();
    let (file, _) = nnc_syntax::parse(&source);
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors());
    checked.program.models.into_iter().next().unwrap()
}

fn training(path: &str, optimizer: &Optimizer, batch: usize) -> Graph {
    let model = model(path);
    let setup = TrainSetup {
        model: &model,
        optimizer,
        batch_size: batch,
        train_size: 1000,
        clip: Default::default(),
    };
    nnc_lower::compile_training_fused(&setup, batch, None).unwrap()
}

#[test]
fn xor_program_is_consistent() {
    let graph = training("models/xor_2_2_1.nnet", &Optimizer::Sgd, 4);
    let target = Target::default();
    let program = emit(&graph, &target).unwrap();
    program.check(&target).unwrap();
    // One buffer per input (no step seed in XOR), one working memory.
    let inputs = graph.inputs().len();
    assert_eq!(program.buffers.len(), inputs + 1);
    assert_eq!(
        program
            .buffers
            .iter()
            .filter(|b| b.role == BufferRole::Work)
            .count(),
        1
    );
    // Every parameter's new value and the cost are kept; gradients are
    // not (their memory is reused) unless asked for.
    for k in 0..4 {
        assert!(program.output_range(OutputKind::NewParam(k)).is_some());
    }
    assert!(program.output_range(OutputKind::Cost).unwrap().len == 1);
    assert!(program.output_range(OutputKind::Gradient(0)).is_none());
    let all = emit_with(
        &graph,
        &target,
        &EmitOptions {
            outputs: Some(nnc_ir::plan::Outputs::All),
        },
    )
    .unwrap();
    all.check(&target).unwrap();
    assert!(all.output_range(OutputKind::Gradient(0)).is_some());
    // Inputs are read-only bindings, the working memory read-write.
    let lr = program.input_buffer(InputKind::LearningRate).unwrap();
    for d in &program.dispatches {
        let kernel = &program.kernels[d.kernel];
        for (r, kind) in d.ranges.iter().zip(&kernel.bindings) {
            if r.buffer == lr {
                assert_eq!(*kind, BindingKind::ReadOnly);
            }
        }
    }
}

#[test]
fn check_notices_broken_invariants() {
    let graph = training("models/xor_2_2_1.nnet", &Optimizer::Sgd, 4);
    let target = Target::default();
    let program = emit(&graph, &target).unwrap();
    let work = program.work_buffer().unwrap();
    // A dispatch with two ranges of the working memory, one moved onto
    // the other.
    let (d, i, j) = program
        .dispatches
        .iter()
        .enumerate()
        .find_map(|(d, dispatch)| {
            let on_work: Vec<usize> = (0..dispatch.ranges.len())
                .filter(|&k| dispatch.ranges[k].buffer == work)
                .collect();
            (on_work.len() >= 2).then(|| (d, on_work[0], on_work[1]))
        })
        .unwrap();
    let mut aliased = program.clone();
    aliased.dispatches[d].ranges[j].offset = aliased.dispatches[d].ranges[i].offset;
    assert!(aliased.check(&target).unwrap_err().contains("alias"));
    let mut misaligned = program.clone();
    misaligned.dispatches[d].ranges[i].offset += 1;
    assert!(misaligned.check(&target).is_err());
    let mut outside = program.clone();
    outside.dispatches[d].ranges[i].len = outside.buffers[work].len + 1;
    assert!(outside.check(&target).is_err());
    let mut empty_grid = program.clone();
    empty_grid.dispatches[d].workgroups = [0, 1, 1];
    assert!(empty_grid.check(&target).is_err());
    let mut wrong_kind = program.clone();
    let k = wrong_kind.dispatches[d].kernel;
    wrong_kind.kernels[k].bindings[i] = BindingKind::ReadOnly;
    assert!(wrong_kind.check(&target).is_err());
}

#[test]
fn ranges_are_aligned_to_the_device() {
    let graph = training("models/mnist_784_30_10.nnet", &Optimizer::Sgd, 10);
    for alignment in [64u32, 256] {
        let target = Target {
            min_storage_buffer_offset_alignment: alignment,
            ..Target::default()
        };
        let program = emit(&graph, &target).unwrap();
        program.check(&target).unwrap();
        for d in &program.dispatches {
            for r in &d.ranges {
                assert_eq!(r.byte_offset() % alignment as u64, 0);
            }
        }
    }
}

#[test]
fn a_tensor_over_the_binding_limit_is_an_error_naming_it() {
    let graph = training("models/mnist_784_30_10.nnet", &Optimizer::Sgd, 10);
    let target = Target {
        max_storage_buffer_binding_size: 64 * 1024,
        ..Target::default()
    };
    match emit(&graph, &target) {
        Err(EmitError::TooLarge {
            tensor,
            bytes,
            limit,
            ..
        }) => {
            assert!(bytes > limit);
            assert_eq!(limit, 64 * 1024);
            assert!(!tensor.is_empty());
            let message = EmitError::TooLarge {
                tensor: tensor.clone(),
                bytes,
                limit,
                limit_name: "max_storage_buffer_binding_size",
            }
            .to_string();
            assert!(message.contains(&tensor) && message.contains(&bytes.to_string()));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let small_buffer = Target {
        max_buffer_size: 1024,
        ..Target::default()
    };
    assert!(matches!(
        emit(&graph, &small_buffer),
        Err(EmitError::TooLarge { .. })
    ));
}

#[test]
fn adam_updates_respect_the_binding_limit() {
    let graph = training(
        "models/universality_1d.nnet",
        &Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        10,
    );
    for limit in [8u32, 16] {
        let target = Target {
            max_storage_buffers_per_shader_stage: limit,
            ..Target::default()
        };
        let program = emit(&graph, &target).unwrap();
        program.check(&target).unwrap();
        nnc_wgsl::validate(&program).unwrap();
        let split = program.kernels.iter().any(|k| k.reason.contains("split"));
        assert_eq!(split, limit == 8, "limit {limit}");
    }
}

#[test]
fn emission_is_deterministic() {
    let graph = training("models/mnist_784_30_10.nnet", &Optimizer::Sgd, 10);
    let a = emit(&graph, &Target::default()).unwrap();
    let b = emit(&graph, &Target::default()).unwrap();
    let sources = |p: &nnc_wgsl::ShaderProgram| {
        p.kernels
            .iter()
            .map(|k| k.source.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(sources(&a), sources(&b));
    assert_eq!(a.dispatches, b.dispatches);
}

#[test]
fn dropout_masks_are_uploads() {
    let graph = training("tests/fixtures/ok/dataflow_model.nnet", &Optimizer::Sgd, 8);
    let has_dropout = graph
        .nodes()
        .iter()
        .any(|n| format!("{:?}", n.op).contains("DropoutMask"));
    let program = emit(&graph, &Target::default()).unwrap();
    assert!(has_dropout, "the fixture has dropout");
    assert!(!program.uploads.is_empty());
    for upload in &program.uploads {
        assert_eq!(
            program.buffers[upload.range.buffer].role,
            BufferRole::Upload
        );
        // Some dispatch reads it.
        assert!(program
            .dispatches
            .iter()
            .any(|d| d.ranges.iter().any(|r| r.buffer == upload.range.buffer)));
    }
}
