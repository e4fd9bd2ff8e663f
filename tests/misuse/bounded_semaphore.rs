//! Misuse and odd inputs: `BoundedSemaphore`.

use super::*;

const TOO_MANY: &str = "Semaphore released too many times";

#[test]
fn release_at_initial_is_err_with_python_message() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::default();
    assert_eq!(sem.initial(), 1);
    assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
    assert_eq!(sem.available(), 1);
    sem.acquire();
    assert_eq!(sem.release(), Ok(()));
    assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
}

#[test]
fn zero_initial_can_never_be_released() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(0);
    assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
    assert_err(sem.release_n(1), Error::TooManyReleases, TOO_MANY);
    assert_eq!(sem.release_n(0), Ok(()));
    prompt(|| {
        assert!(!sem.try_acquire());
        assert!(!sem.acquire_timeout(Duration::ZERO));
        assert!(!sem.acquire_until(past()));
        assert!(sem.try_access().is_none());
        assert!(sem.access_timeout(Duration::ZERO).is_none());
        assert!(sem.access_until(past()).is_none());
    });
}

#[test]
fn release_n_is_all_or_nothing_at_the_extremes() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(3);
    sem.acquire();
    sem.acquire();
    assert_eq!(sem.release_n(0), Ok(()));
    assert_err(sem.release_n(usize::MAX), Error::TooManyReleases, TOO_MANY);
    assert_err(
        sem.release_n(Semaphore::MAX_PERMITS),
        Error::TooManyReleases,
        TOO_MANY,
    );
    assert_err(sem.release_n(3), Error::TooManyReleases, TOO_MANY);
    assert_eq!(sem.available(), 1, "unchanged");
    assert_eq!(sem.release_n(2), Ok(()));
    assert_eq!(sem.available(), 3);
}

#[test]
fn new_past_max_panics_and_max_works() {
    let _watchdog = common::watchdog();
    assert_eq!(
        panic_message(|| BoundedSemaphore::new(usize::MAX)),
        "Semaphore: initial permits exceed Semaphore::MAX_PERMITS (usize::MAX >> 1)"
    );
    let sem = BoundedSemaphore::new(Semaphore::MAX_PERMITS);
    assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
    assert_err(sem.release_n(usize::MAX), Error::TooManyReleases, TOO_MANY);
    assert!(sem.try_acquire());
    assert_eq!(sem.release(), Ok(()));
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
}

#[test]
#[cfg_attr(miri, ignore)]
fn over_release_with_a_waiter_is_err_and_wakes_nobody() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(1);
    sem.acquire();
    thread::scope(|s| {
        let (w, tid) = common::spawn_tid(s, || sem.acquire_timeout(Duration::MAX));
        common::wait_until_queued(&tid, &sem, 1);
        assert_err(sem.release_n(2), Error::TooManyReleases, TOO_MANY);
        assert_err(sem.release_n(usize::MAX), Error::TooManyReleases, TOO_MANY);
        // Had it handed out a permit, the waiter would have run by now.
        common::wait_until_settled(&[tid]);
        assert!(!w.is_finished(), "a failed release handed out a permit");
        assert_eq!(sem.release(), Ok(()));
        assert!(w.join().unwrap());
    });
    assert_eq!(sem.available(), 0);
    assert_eq!(sem.release(), Ok(()));
    assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
}

#[test]
#[cfg_attr(miri, ignore)]
fn huge_timeouts_wait_for_a_release_from_another_thread() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(1);
    for t in HUGE {
        prompt(|| assert!(sem.acquire_timeout(t)));
        thread::scope(|s| {
            let w = common::spawn_parked(s, || sem.acquire_timeout(t));
            s.spawn(|| sem.release().unwrap());
            assert!(w.join().unwrap());
        });
        sem.release().unwrap();
    }
    assert!(sem.acquire_until(far_future()));
    thread::scope(|s| {
        let w = common::spawn_parked(s, || sem.access_until(far_future()).map(|g| g.release()));
        sem.release().unwrap();
        assert_eq!(w.join().unwrap(), Some(Ok(())));
    });
    assert_eq!(sem.available(), 1);
}

#[test]
fn nested_guards_dropped_on_other_threads() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(2);
    let a = sem.access();
    let b = sem.access_until(Instant::now()).unwrap();
    assert!(sem.try_access().is_none());
    thread::scope(|s| {
        s.spawn(move || drop(b));
        s.spawn(move || drop(a));
    });
    assert_eq!(sem.available(), 2);
    assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
}

#[test]
fn guard_at_ceiling_release_is_err_and_drop_is_quiet() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(1);
    let g = sem.access();
    sem.release().unwrap(); // someone gave the permit back for us
    assert_err(g.release(), Error::TooManyReleases, TOO_MANY);
    assert_eq!(sem.available(), 1);

    // Drop never panics (it may run during an unwind or in a destructor):
    // the permit was already given back for us, the count stays at the
    // ceiling.
    let g = sem.access();
    sem.release().unwrap();
    drop(g);
    assert_eq!(sem.available(), 1);
}

#[test]
fn guard_at_ceiling_dropped_while_panicking_does_not_double_panic() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(1);
    let msg = panic_message(|| {
        let _g = sem.access();
        sem.release().unwrap();
        panic!("original panic");
    });
    assert_eq!(msg, "original panic", "the guard must not panic again");
    assert_eq!(sem.available(), 1);
}

#[test]
fn panic_inside_guard_scope_gives_the_permit_back() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(1);
    panic_message(|| {
        let _g = sem.access();
        panic!("boom");
    });
    assert_eq!(sem.available(), 1);
    assert_eq!(
        format!("{sem:?}"),
        "BoundedSemaphore { available: 1, initial: 1, waiters: false }"
    );
}
