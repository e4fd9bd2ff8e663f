//! Loom models: lock (in progress).
