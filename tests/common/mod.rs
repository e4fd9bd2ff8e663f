//! Helpers shared by behaviour tests.
#![allow(dead_code)] // each test file uses the helpers it needs

use std::time::{Duration, Instant};

/// The calling thread's kernel id, where the platform shows it (Linux's
/// `/proc/thread-self`).
pub fn current_tid() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// Waits until thread `tid` (from [`current_tid`]) is blocked in the kernel,
/// i.e. parked: a test that needs "A parked before B arrives" asks the
/// kernel instead of sleeping and hoping. Where `/proc` is missing it falls
/// back to a generous sleep.
pub fn wait_until_blocked(tid: Option<&str>) {
    let Some(tid) = tid else {
        std::thread::sleep(Duration::from_millis(200));
        return;
    };
    let path = format!("/proc/self/task/{tid}/stat");
    let start = Instant::now();
    loop {
        let stat = std::fs::read_to_string(&path).expect("the thread is alive");
        // The state is the first field after the parenthesised name.
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.trim().chars().next());
        if state == Some('S') {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "thread {tid} never blocked (state {state:?})"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
