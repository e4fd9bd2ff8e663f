//! Loom models: rlock (in progress).
