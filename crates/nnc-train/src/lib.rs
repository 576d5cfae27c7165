//! The training loop (skeleton).
