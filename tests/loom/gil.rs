//! Loom models: gil (in progress).
