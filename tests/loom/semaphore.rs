//! Loom models: semaphore (in progress).
