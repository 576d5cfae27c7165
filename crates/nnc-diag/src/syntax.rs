//! Syntax errors (owned by the syntax stage).
