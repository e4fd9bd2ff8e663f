//! The one test watchdog, shared by every behaviour test (through
//! `tests/common`) and by the unit tests in `src/` (through a `#[path]`
//! module in `src/lib.rs`): std only, so both can compile it.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long any one test may run before the watchdog declares it hung.
/// Generous: Miri and ThreadSanitizer run the same tests many times slower.
/// The environment variable `PYSYNC_TEST_WATCHDOG_SECS` overrides it (for a
/// slow instrumented run).
pub const WATCHDOG: Duration = Duration::from_secs(if cfg!(miri) { 1200 } else { 120 });

/// [`WATCHDOG`], or the override from `PYSYNC_TEST_WATCHDOG_SECS`.
pub fn watchdog_limit() -> Duration {
    std::env::var("PYSYNC_TEST_WATCHDOG_SECS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .map_or(WATCHDOG, Duration::from_secs)
}

/// Arms the watchdog for the calling test; dropping the guard (when the test
/// returns or unwinds) disarms it. If the test is still running after
/// [`watchdog_limit`], the process aborts with a message naming the test.
///
/// The body runs on the test's own thread, so its panics (and
/// `#[should_panic(expected = ...)]`) work as without a watchdog.
#[must_use = "the watchdog disarms when this guard is dropped"]
pub fn watchdog() -> Watchdog {
    let name = thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    let limit = watchdog_limit();
    let (done, rx) = mpsc::channel::<()>();
    thread::Builder::new()
        .name(format!("watchdog: {name}"))
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                // Straight to stderr: libtest's capture would lose the
                // message when the process aborts.
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "test `{name}` HUNG: still running after {limit:?}; aborting"
                );
                std::process::abort();
            }
        })
        .expect("spawn the watchdog thread");
    Watchdog { _done: done }
}

/// The armed watchdog of one test (see [`watchdog`]).
pub struct Watchdog {
    _done: mpsc::Sender<()>,
}
