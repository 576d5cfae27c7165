//! The executor on hand-written programs (independent of the emitter):
//! an adapter is found, buffers are bound at offsets, dispatches run in
//! order in one command buffer, dropout masks are drawn as the interpreter
//! draws them, and broken shaders come back as errors, not panics.

mod support;

use nnc_gpu::{GpuError, LoadedProgram};
use nnc_ir::rng::Rng;
use nnc_ir::{Graph, GraphKind, InputKind, NodeId, Op};
use nnc_wgsl::{
    BindingKind, BufferRole, BufferSpec, Dispatch, Range, ShaderKernel, ShaderProgram, Upload,
    UploadKind,
};
use support::{gpu_or_skip, gpu_required};

/// `out[i] = in[i] * a + b` over `n` values, 64 threads a workgroup.
fn affine(name: &str, a: f32, b: f32) -> ShaderKernel {
    ShaderKernel {
        name: name.to_string(),
        variant: "test".to_string(),
        reason: "hand-written".to_string(),
        source: format!(
            "@group(0) @binding(0) var<storage, read> x: array<f32>;\n\
             @group(0) @binding(1) var<storage, read_write> y: array<f32>;\n\
             @compute @workgroup_size(64)\n\
             fn main(@builtin(global_invocation_id) id: vec3<u32>) {{\n\
                 let i = id.x;\n\
                 if (i < arrayLength(&y)) {{ y[i] = x[i] * {a:?} + {b:?}; }}\n\
             }}\n"
        ),
        entry_point: "main".to_string(),
        bindings: vec![BindingKind::ReadOnly, BindingKind::ReadWrite],
        workgroup_size: [64, 1, 1],
    }
}

/// `y[i] = x[i] * m[i]` where `x` lives in the working memory too.
fn multiply() -> ShaderKernel {
    ShaderKernel {
        name: "mul".to_string(),
        variant: "test".to_string(),
        reason: "hand-written".to_string(),
        source: "@group(0) @binding(0) var<storage, read_write> x: array<f32>;\n\
                 @group(0) @binding(1) var<storage, read> m: array<f32>;\n\
                 @group(0) @binding(2) var<storage, read_write> y: array<f32>;\n\
                 @compute @workgroup_size(64)\n\
                 fn main(@builtin(global_invocation_id) id: vec3<u32>) {\n\
                     let i = id.x;\n\
                     if (i < arrayLength(&y)) { y[i] = x[i] * m[i]; }\n\
                 }\n"
        .to_string(),
        entry_point: "main".to_string(),
        bindings: vec![
            BindingKind::ReadWrite,
            BindingKind::ReadOnly,
            BindingKind::ReadWrite,
        ],
        workgroup_size: [64, 1, 1],
    }
}

/// A graph with one data input of `n` values (the program's nodes are not
/// otherwise used by these tests).
fn graph(n: usize) -> (Graph, NodeId) {
    let mut g = Graph::new(GraphKind::Inference, 1);
    let x = g
        .add(
            Op::Input {
                kind: InputKind::Data(0),
                shape: vec![1, n],
            },
            Vec::new(),
            "x",
        )
        .expect("an input node");
    (g, x)
}

const N: usize = 300;
/// Elements per 256 bytes, the usual storage offset alignment.
const ALIGN: usize = 64;

/// `x` (input) ▶ `h = 2x + 1` at offset 0 of the arena ▶ `y = h * mask`
/// at an aligned offset past `h`.
fn program(p: f64) -> (ShaderProgram, Range, Range) {
    let (g, x) = graph(N);
    let h = Range {
        buffer: 1,
        offset: 0,
        len: N,
    };
    let y = Range {
        buffer: 1,
        offset: N.div_ceil(ALIGN) * ALIGN,
        len: N,
    };
    let mask = Range {
        buffer: 2,
        offset: 0,
        len: N,
    };
    let input = Range {
        buffer: 0,
        offset: 0,
        len: N,
    };
    let groups = [N.div_ceil(64) as u32, 1, 1];
    let mut node_values = vec![None; g.len()];
    node_values[x.index()] = Some(input);
    let program = ShaderProgram {
        graph: g,
        buffers: vec![
            BufferSpec {
                name: "x".into(),
                len: N,
                role: BufferRole::Input(InputKind::Data(0)),
            },
            BufferSpec {
                name: "arena".into(),
                len: y.end(),
                role: BufferRole::Work,
            },
            BufferSpec {
                name: "mask".into(),
                len: N,
                role: BufferRole::Upload,
            },
        ],
        kernels: vec![affine("affine", 2.0, 1.0), multiply()],
        dispatches: vec![
            Dispatch {
                kernel: 0,
                ranges: vec![input, h],
                workgroups: groups,
                origin: x,
            },
            Dispatch {
                kernel: 1,
                ranges: vec![h, mask, y],
                workgroups: groups,
                origin: x,
            },
        ],
        uploads: vec![Upload {
            range: mask,
            what: UploadKind::DropoutMask { p, stream: 7 },
            node: x,
        }],
        node_values,
    };
    (program, h, y)
}

#[test]
fn a_device_opens_and_reports_its_limits() {
    let Some(gpu) = gpu_or_skip("a_device_opens_and_reports_its_limits") else {
        return;
    };
    eprintln!("adapter: {}", gpu.adapter);
    let target = gpu.target();
    assert!(target.max_workgroup_size_x >= 256);
    assert!(target.max_storage_buffer_binding_size >= 128 << 20);
    assert!(target.min_storage_buffer_offset_alignment.is_power_of_two());
}

#[test]
fn dispatches_run_in_order_over_offset_bindings_with_masks_drawn_on_the_host() {
    let Some(gpu) = gpu_or_skip("dispatches_run_in_order") else {
        return;
    };
    let (program, h, y) = program(0.3);
    program
        .check(&gpu.target())
        .expect("the hand-written program is well formed");
    let mut loaded = LoadedProgram::load(&gpu, program).expect("loads");
    let x: Vec<f32> = (0..N).map(|i| i as f32 * 0.5 - 10.0).collect();
    loaded
        .write(&gpu, InputKind::Data(0), &x)
        .expect("writes x");
    for seed in [1u64, 99] {
        loaded.run(&gpu, seed).expect("runs");
        let got_h = loaded.read(&gpu, h).expect("reads h");
        let got_y = loaded.read(&gpu, y).expect("reads y");
        let mut rng = Rng::derive(seed, 7);
        let kept = (1.0 / (1.0 - 0.3f64)) as f32;
        let mut dropped = 0;
        for i in 0..N {
            let want_h = x[i] * 2.0 + 1.0;
            assert_eq!(got_h[i], want_h, "h[{i}]");
            let m = if rng.uniform() < 0.3 { 0.0 } else { kept };
            dropped += usize::from(m == 0.0);
            assert_eq!(got_y[i], want_h * m, "y[{i}] with seed {seed}");
        }
        assert!(dropped > N / 10 && dropped < N / 2, "{dropped} dropped");
    }
}

#[test]
fn a_shader_that_does_not_compile_is_an_error_not_a_panic() {
    let Some(gpu) = gpu_or_skip("a_shader_that_does_not_compile") else {
        return;
    };
    let (mut program, _, _) = program(0.5);
    program.kernels[0].source = program.kernels[0].source.replace("x[i]", "x[i] + nope");
    let error = LoadedProgram::load(&gpu, program).expect_err("an undefined name");
    let text = error.to_string();
    assert!(matches!(error, GpuError::Rejected { .. }), "{text}");
    assert!(text.contains("affine"), "names the kernel: {text}");
    // The device is still usable afterwards.
    let (program, h, _) = program_ok();
    let mut loaded = LoadedProgram::load(&gpu, program).expect("loads");
    loaded
        .write(&gpu, InputKind::Data(0), &vec![1.0; N])
        .expect("writes");
    loaded.run(&gpu, 0).expect("runs");
    assert_eq!(loaded.read(&gpu, h).expect("reads")[0], 3.0);
}

fn program_ok() -> (ShaderProgram, Range, Range) {
    program(0.5)
}

#[test]
fn a_binding_past_its_buffer_is_an_error_not_a_panic() {
    let Some(gpu) = gpu_or_skip("a_binding_past_its_buffer") else {
        return;
    };
    let (mut program, _, _) = program(0.5);
    program.dispatches[1].ranges[2].offset += 4 * ALIGN;
    let error = LoadedProgram::load(&gpu, program).expect_err("out of bounds");
    assert!(matches!(error, GpuError::Rejected { .. }), "{error}");
}

/// Fails when CI demands a GPU and none can be opened, so the suite cannot
/// pass by skipping everything.
#[test]
fn an_adapter_is_found_when_required() {
    if gpu_required() {
        if let Err(error) = nnc_gpu::Gpu::acquire() {
            panic!(
                "NNC_REQUIRE_GPU=1 but no GPU device could be opened: {error}\nadapters: {:?}",
                nnc_gpu::adapters()
            );
        }
    }
}
