//! An `Event`-signalled shutdown: workers loop until the event is set,
//! waiting on it (with a timeout) between units of work.
//!
//! ```python
//! stop = threading.Event()
//! while not stop.wait(timeout=0.01): do_work()
//! ```

use pysync::Event;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// Starts `n` workers that each count ticks until `stop` is set; returns
/// their handles (each joins to its tick count).
pub fn start_workers(
    n: usize,
    stop: &Arc<Event>,
    ticks: &Arc<AtomicUsize>,
) -> Vec<thread::JoinHandle<usize>> {
    (0..n)
        .map(|_| {
            let (stop, ticks) = (Arc::clone(stop), Arc::clone(ticks));
            thread::spawn(move || {
                let mut mine = 0;
                while !stop.wait_timeout(Duration::from_micros(100)) {
                    mine += 1;
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
                mine
            })
        })
        .collect()
}
