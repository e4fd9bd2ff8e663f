//! Loom models: condition (in progress).
