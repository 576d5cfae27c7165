//! The tensor IR (skeleton; see backend.rs for the backend contract).
pub mod backend;
