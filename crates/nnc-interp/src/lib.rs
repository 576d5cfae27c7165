//! The reference interpreter (skeleton).
