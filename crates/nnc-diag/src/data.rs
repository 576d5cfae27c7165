//! Data errors.
