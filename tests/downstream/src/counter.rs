//! A `Mutex<T>` counter: Python's `with lock: counter += 1`, with the lock
//! and the data in one value.

use pysync::Mutex;
use std::thread;

/// `threads` threads each add 1, `per_thread` times; the total.
pub fn count(threads: usize, per_thread: usize) -> usize {
    let counter = Mutex::new(0);
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per_thread {
                    *counter.lock() += 1;
                }
            });
        }
    });
    counter.into_inner()
}
