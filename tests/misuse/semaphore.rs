//! Misuse and odd inputs: `Semaphore`.

use super::*;

const OVERFLOW: &str = "Semaphore released past Semaphore::MAX_PERMITS (usize::MAX >> 1) permits";
const NEW_TOO_BIG: &str =
    "Semaphore: initial permits exceed Semaphore::MAX_PERMITS (usize::MAX >> 1)";

#[test]
#[should_panic(
    expected = "Semaphore: initial permits exceed Semaphore::MAX_PERMITS (usize::MAX >> 1)"
)]
fn new_usize_max_panics() {
    let _watchdog = common::watchdog();
    let _ = Semaphore::new(usize::MAX);
}

#[test]
fn new_just_past_max_panics_and_max_is_fine() {
    let _watchdog = common::watchdog();
    assert_eq!(Semaphore::MAX_PERMITS, usize::MAX >> 1);
    let msg = panic_message(|| Semaphore::new(Semaphore::MAX_PERMITS + 1));
    assert_eq!(msg, NEW_TOO_BIG);
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
    assert!(sem.try_acquire());
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS - 1);
    sem.release();
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
}

#[test]
fn release_past_max_panics_and_leaves_count_unchanged() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    assert_eq!(panic_message(|| sem.release()), OVERFLOW);
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
    assert_eq!(panic_message(|| sem.release_n(1)), OVERFLOW);
    assert_eq!(panic_message(|| sem.release_n(usize::MAX)), OVERFLOW);
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
    sem.release_n(0); // zero always fits
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
}

#[test]
fn release_n_zero_is_a_no_op() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    sem.release_n(0);
    assert_eq!(sem.available(), 0);
    assert!(!sem.try_acquire());
}

#[test]
fn release_n_usize_max_panics_unchanged_and_max_permits_fits() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    assert_eq!(panic_message(|| sem.release_n(usize::MAX)), OVERFLOW);
    assert_eq!(sem.available(), 0);
    sem.release_n(Semaphore::MAX_PERMITS);
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);

    let one = Semaphore::new(1);
    assert_eq!(
        panic_message(|| one.release_n(Semaphore::MAX_PERMITS)),
        OVERFLOW
    );
    assert_eq!(one.available(), 1, "all or nothing");
}

#[test]
#[cfg_attr(miri, ignore)]
fn release_n_usize_max_with_a_waiter_panics_and_wakes_nobody() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    thread::scope(|s| {
        let (w, tid) = common::spawn_tid(s, || sem.acquire_timeout(Duration::MAX));
        common::wait_until_queued(&tid, &sem, 1);
        assert_eq!(panic_message(|| sem.release_n(usize::MAX)), OVERFLOW);
        assert_eq!(sem.available(), 0);
        // Had it handed out a permit, the waiter would have run by now.
        common::wait_until_settled(&[tid]);
        assert!(!w.is_finished(), "the failed release handed out a permit");
        sem.release_n(1);
        assert!(w.join().unwrap());
    });
    assert_eq!(sem.available(), 0);
}

#[test]
#[cfg_attr(miri, ignore)]
fn release_n_max_permits_with_a_waiter_hands_one_and_keeps_the_rest() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    thread::scope(|s| {
        let w = common::spawn_parked(s, || sem.acquire_timeout(Duration::MAX));
        sem.release_n(Semaphore::MAX_PERMITS);
        assert!(w.join().unwrap());
    });
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS - 1);
}

#[test]
fn zero_permits_zero_timeout_and_past_deadline_fail_promptly() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    prompt(|| {
        assert!(!sem.try_acquire());
        assert!(!sem.acquire_timeout(Duration::ZERO));
        assert!(!sem.acquire_until(past()));
        assert!(!sem.acquire_until(Instant::now()));
        assert!(sem.try_access().is_none());
        assert!(sem.access_timeout(Duration::ZERO).is_none());
        assert!(sem.access_until(past()).is_none());
    });
    assert_eq!(sem.available(), 0);
    assert_eq!(
        format!("{sem:?}"),
        "Semaphore { available: 0, waiters: false }"
    );
    sem.release();
    assert!(
        sem.acquire_until(past()),
        "available: a past deadline is a try"
    );
}

#[test]
#[cfg_attr(miri, ignore)]
fn huge_timeouts_succeed_at_once_or_wait_for_a_release() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::default();
    for t in HUGE {
        prompt(|| assert!(sem.acquire_timeout(t)));
        sem.release();
        prompt(|| drop(sem.access_timeout(t).unwrap()));
    }
    prompt(|| assert!(sem.acquire_until(far_future())));
    sem.release();
    prompt(|| drop(sem.access_until(far_future()).unwrap()));

    let empty = Semaphore::new(0);
    for t in HUGE {
        thread::scope(|s| {
            let w = common::spawn_parked(s, || empty.acquire_timeout(t));
            empty.release();
            assert!(w.join().unwrap());
        });
    }
    thread::scope(|s| {
        let w = common::spawn_parked(s, || empty.access_until(far_future()).map(|g| g.release()));
        empty.release();
        assert_eq!(w.join().unwrap(), Some(Ok(())));
    });
    assert_eq!(empty.available(), 1);
}

#[test]
fn release_by_a_thread_that_never_acquired_raises_the_count() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(1);
    sem.acquire();
    thread::scope(|s| {
        s.spawn(|| {
            sem.release();
            sem.release(); // past the initial value: fine for Semaphore
        });
    });
    assert_eq!(sem.available(), 2);
}

#[test]
fn nested_guards_and_wrong_order_drops() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(3);
    let a = sem.access();
    let b = sem.try_access().unwrap();
    let c = sem.access_timeout(Duration::ZERO).unwrap();
    assert_eq!(sem.available(), 0);
    assert!(sem.try_access().is_none());
    assert!(sem.access_until(past()).is_none());
    drop(a);
    assert_eq!(sem.available(), 1);
    assert_eq!(c.release(), Ok(()));
    drop(b);
    assert_eq!(sem.available(), 3);
}

#[test]
#[cfg_attr(miri, ignore)]
fn guard_dropped_on_another_thread_wakes_a_waiter() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(1);
    let permit = sem.access();
    thread::scope(|s| {
        let w = common::spawn_parked(s, || sem.acquire_timeout(Duration::MAX));
        s.spawn(move || drop(permit));
        assert!(w.join().unwrap());
    });
    assert_eq!(sem.available(), 0, "the waiter kept the handed-off permit");
}

#[test]
fn panic_inside_guard_scope_gives_the_permit_back() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(2);
    let msg = panic_message(|| {
        let _a = sem.access();
        let _b = sem.access();
        panic!("boom holding two permits");
    });
    assert_eq!(msg, "boom holding two permits");
    assert_eq!(sem.available(), 2);
}

#[test]
fn guard_drop_past_max_saturates_release_panics_with_overflow_message() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    let g = sem.access();
    sem.release(); // someone else filled it back up to the max
    assert!(format!("{g:?}").contains("bounded: false"));
    // Drop never panics (it may run during an unwind): the count saturates.
    drop(g);
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);

    let g = sem.access();
    sem.release();
    assert_eq!(panic_message(move || g.release()), OVERFLOW);
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
}

/// `ArcSemaphoreGuard::release` panics past `MAX_PERMITS`, as
/// `SemaphoreGuard::release` does (owned.rs), leaving the count at the
/// maximum; its drop saturates.
#[test]
fn arc_guard_release_past_max_panics_with_overflow_message() {
    let _watchdog = common::watchdog();
    let sem = Arc::new(Semaphore::new(Semaphore::MAX_PERMITS));
    let g = sem.access_arc();
    sem.release(); // someone else filled it back up to the max
    assert_eq!(panic_message(move || g.release()), OVERFLOW);
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);

    let g = sem.access_arc();
    sem.release();
    drop(g); // never panics
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
}
