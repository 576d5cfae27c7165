//! What lowering makes of each node before the JIT kernels are compiled:
//! shared by the lowering of pointwise groups and products (module
//! `lower`) and of spatial ops (module `lower_conv`).

use crate::batched::BatchedProduct;
use crate::conv_gemm::ConvGemm;
use crate::fold::Poly;
use crate::gemm::LibraryProduct;
use crate::host::HostOp;
use crate::pool_grad::PoolGradFused;
use nnc_jit::Kernel;

/// An action before compilation.
pub(crate) enum Pending {
    Jit(Kernel),
    Host(HostOp, usize),
    /// A pointwise kernel split by rows: the two halves' kernels, their
    /// rows, and which buffers are cut (see `program::Split`).
    Split([Kernel; 2], [usize; 2], Vec<Option<usize>>),
    /// A convolution's passes as products (module `conv_gemm`).
    Conv(Box<ConvGemm>),
    /// A pooling gradient with its epilogue in one pass (module
    /// `pool_grad`).
    PoolGrad(Box<PoolGradFused>),
    /// A large product; with a folded update's coefficients (module
    /// `fold`).
    Library(LibraryProduct, Option<(Poly, Poly)>),
    /// A product per batch position (module `lower_tensor`).
    Batched(Box<BatchedProduct>),
}
