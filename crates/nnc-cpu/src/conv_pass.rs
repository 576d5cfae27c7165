//! Which product of a convolution a kernel computes: shared by the
//! lowering of spatial ops (module `lower_conv`) and the convolutions as
//! matrix products (module `conv_gemm`).

/// The three products of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConvPass {
    Forward,
    InputGrad,
    WeightGrad,
}
