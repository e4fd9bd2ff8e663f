//! What every bench shares: one short criterion configuration, so that the
//! whole `cargo bench` stays within a few minutes on a 2-core machine.

use criterion::Criterion;
use std::time::Duration;

/// 300 ms warm-up, 1 s of measurement, 20 samples.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}
