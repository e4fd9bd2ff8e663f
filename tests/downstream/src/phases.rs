//! Barrier phases: workers compute a phase, meet at the barrier, and the
//! barrier's action (run once per phase, by the last to arrive) records
//! the phase's result before anyone starts the next one.
//!
//! ```python
//! b = threading.Barrier(n, action=lambda: results.append(sum(partial)))
//! ```

use pysync::{Barrier, Mutex};
use std::thread;

/// `workers` threads run `phases` phases; in phase `p`, worker `w` adds
/// `p * w` to the phase's sum. Returns each phase's sum, recorded by the
/// barrier's action (which borrows the scope's data).
pub fn run(workers: usize, phases: usize) -> Vec<usize> {
    let partial = Mutex::new(0usize);
    let sums = Mutex::new(Vec::new());
    let barrier = Barrier::with_scoped_action(workers, || {
        let mut p = partial.lock();
        sums.lock().push(*p);
        *p = 0;
    });
    thread::scope(|s| {
        for w in 0..workers {
            let (barrier, partial) = (&barrier, &partial);
            s.spawn(move || {
                for p in 0..phases {
                    *partial.lock() += p * w;
                    if barrier.wait().is_err() {
                        return; // broken: another worker gave up
                    }
                }
            });
        }
    });
    sums.into_inner()
}
