//! A training step allocates nothing in this crate: counted with a global
//! allocator, a step after the first makes at most one allocation per JIT
//! kernel it calls (exactly one today), the table of buffer pointers that
//! `nnc_jit::CompiledKernel::call` builds (below this crate; to be removed
//! there).

use nnc_check::program::Optimizer;
use nnc_cpu::JitBackend;
use nnc_ir::backend::{Backend, Batch, TrainSetup};
use nnc_ir::init_params;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is only a side effect.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_training_step_allocates_at_most_the_jit_call_tables() {
    let (file, _) = nnc_syntax::parse(
        "model m {
           input x: [20]
           layers {
             dense(16, act: sigmoid)
             dense(4, act: softmax)
           }
           cost log_likelihood
           regularize l2(1.0)
         }",
    );
    let model = nnc_check::check(&file).program.models.remove(0);
    let mut backend = JitBackend::new();
    let setup = TrainSetup {
        model: &model,
        optimizer: &Optimizer::Momentum { mu: 0.9 },
        batch_size: 8,
        train_size: 80,
    };
    backend.configure(&setup).unwrap();
    backend.set_params(init_params(&model, 2)).unwrap();
    let xs: Vec<f32> = (0..160).map(|i| (i % 7) as f32 / 7.0).collect();
    let ys: Vec<f32> = (0..8).map(|i| (i % 4) as f32).collect();
    let batch = Batch {
        inputs: &xs,
        targets: &ys,
        len: 8,
    };
    backend.train_step(batch, 0.1, 0).unwrap();
    let (jit_kernels, _) = backend.training_program(8).unwrap().action_counts();
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    backend.train_step(batch, 0.1, 1).unwrap();
    let during = ALLOCATIONS.load(Ordering::SeqCst) - before;
    assert!(
        during <= jit_kernels,
        "{during} allocations in a step of {jit_kernels} kernel calls"
    );
}
