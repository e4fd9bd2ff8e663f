//! Loom models: event (in progress).
