//! A training step allocates nothing: counted with a global allocator, a
//! step after the first makes no allocation at all where the processor
//! runs nnc's own product (x86-64 with AVX2 and FMA; the first layer's
//! products here, `8 x 200 x 64`, are large enough to use it, and so is
//! the helper thread of the split products, which exists from the first
//! step). Elsewhere the products go to the `gemm` library, which
//! allocates its packing buffer and a small vector of flags on every call
//! that packs (at most two per product), and only those are allowed.

use nnc_check::program::Optimizer;
use nnc_cpu::JitBackend;
use nnc_lower::backend::{Backend, Batch, TrainSetup};
use nnc_lower::init_params;
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
fn a_training_step_allocates_nothing() {
    let (file, _) = nnc_syntax::parse(
        "model m {
           input x: [200]
           layers {
             dense(64, act: sigmoid)
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
        clip: Default::default(),
    };
    backend.configure(&setup).unwrap();
    backend.set_params(init_params(&model, 2)).unwrap();
    let xs: Vec<f32> = (0..1600).map(|i| (i % 7) as f32 / 7.0).collect();
    let ys: Vec<f32> = (0..8).map(|i| (i % 4) as f32).collect();
    let batch = Batch {
        inputs: &xs,
        targets: &ys,
        len: 8,
        noise_seed: 0,
    };
    backend.train_step(batch, 0.1, 0).unwrap();
    let program = backend.training_program(8).unwrap();
    let (jit_kernels, _) = program.action_counts();
    let library = program
        .describe()
        .iter()
        .filter(|l| l.starts_with("library gemm"))
        .count();
    assert!(library >= 2, "the first layer's products use the library");
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    backend.train_step(batch, 0.1, 1).unwrap();
    let during = ALLOCATIONS.load(Ordering::SeqCst) - before;
    let allowed = if nnc_cpu::sgemm::Sgemm::available() {
        0
    } else {
        2 * library
    };
    assert!(
        during <= allowed,
        "{during} allocations in a step of {jit_kernels} kernel calls and {library} library products"
    );
}
