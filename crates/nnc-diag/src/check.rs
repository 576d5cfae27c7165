//! Check errors.
