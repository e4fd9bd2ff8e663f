//! Loom models: barrier (in progress).
