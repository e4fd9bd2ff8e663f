//! Misuse and odd inputs: `Condition` over every kind of lock (`Lock`,
//! `RLock`, `&Lock`, `Arc<RLock>`), and a lock shared with other code.

use super::*;

const WAIT_UNACQ: &str = "cannot wait on un-acquired lock";
const NOTIFY_UNACQ: &str = "cannot notify on un-acquired lock";

/// Every wait and notify form, none allowed: the lock is not held (as the
/// lock kind counts "held").
fn assert_all_forms_unacquired<L: ConditionLock>(cond: &Condition<L>) {
    let pred_ran = AtomicBool::new(false);
    let pred = || {
        pred_ran.store(true, SeqCst);
        true
    };
    prompt(|| {
        assert_err(cond.wait(), Error::WaitUnacquired, WAIT_UNACQ);
        for t in [Duration::ZERO, Duration::from_millis(1), Duration::MAX] {
            assert_err(cond.wait_timeout(t), Error::WaitUnacquired, WAIT_UNACQ);
            assert_err(
                cond.wait_for_timeout(pred, t),
                Error::WaitUnacquired,
                WAIT_UNACQ,
            );
        }
        for d in [past(), far_future()] {
            assert_err(cond.wait_until(d), Error::WaitUnacquired, WAIT_UNACQ);
            assert_err(
                cond.wait_for_until(pred, d),
                Error::WaitUnacquired,
                WAIT_UNACQ,
            );
        }
        assert_err(cond.wait_for(pred), Error::WaitUnacquired, WAIT_UNACQ);
        for n in [0, 1, 2, usize::MAX] {
            assert_err(cond.notify(n), Error::NotifyUnacquired, NOTIFY_UNACQ);
        }
        assert_err(cond.notify_one(), Error::NotifyUnacquired, NOTIFY_UNACQ);
        assert_err(cond.notify_all(), Error::NotifyUnacquired, NOTIFY_UNACQ);
    });
    assert!(!pred_ran.load(SeqCst), "pred must not run without the lock");
}

/// The same suite for every lock a condition can be bound to.
macro_rules! condition_suite {
    (
        $module:ident,
        make = $make:expr,
        reentrant = $reentrant:expr,
        held_by_anyone = $anyone:expr,
        release_err = ($rel_err:expr, $rel_msg:expr) $(,)?
    ) => {
        mod $module {
            use super::*;

            #[test]
            fn wait_and_notify_without_the_lock_are_errs() {
                let _watchdog = common::watchdog();
                let cond = $make;
                assert_all_forms_unacquired(&cond);
                assert_err(cond.release(), $rel_err, $rel_msg);
                // Still unlocked and usable.
                let _g = cond.lock();
                assert_eq!(cond.notify_all(), Ok(()));
            }

            #[test]
            fn wait_and_notify_after_releasing_are_errs() {
                let _watchdog = common::watchdog();
                let cond = $make;
                cond.acquire();
                assert_eq!(cond.release(), Ok(()));
                assert_all_forms_unacquired(&cond);
                let g = cond.lock();
                drop(g);
                assert_all_forms_unacquired(&cond);
            }

            #[test]
            fn lock_held_by_another_thread() {
                let _watchdog = common::watchdog();
                let cond = $make;
                let (held_tx, held_rx) = mpsc::channel();
                let (done_tx, done_rx) = mpsc::channel::<()>();
                thread::scope(|s| {
                    let cond_ref = &cond;
                    s.spawn(move || {
                        let cond = cond_ref;
                        cond.acquire();
                        held_tx.send(()).unwrap();
                        done_rx.recv().unwrap();
                        if !$anyone {
                            // An owned lock: still ours, release it.
                            assert_eq!(cond.release(), Ok(()));
                        }
                    });
                    held_rx.recv().unwrap();
                    // The acquire forms all fail promptly.
                    prompt(|| {
                        assert!(!cond.try_acquire());
                        assert!(!cond.acquire_timeout(Duration::ZERO));
                        assert!(!cond.acquire_until(past()));
                    });
                    if $anyone {
                        // Python's `_is_owned` for a Lock: held by anyone
                        // counts. Notify is fine; wait releases the other
                        // thread's acquisition and returns holding it.
                        assert_eq!(cond.notify(usize::MAX), Ok(()));
                        assert_eq!(cond.notify(0), Ok(()));
                        assert_eq!(cond.notify_one(), Ok(()));
                        assert_eq!(cond.wait_timeout(Duration::from_millis(10)), Ok(false));
                        assert!(cond.lock_ref().is_held());
                        assert_eq!(cond.wait_for_until(|| false, past()), Ok(false));
                        assert_eq!(cond.release(), Ok(()));
                        assert!(!cond.lock_ref().is_held());
                    } else {
                        assert_all_forms_unacquired(&cond);
                        assert_err(cond.release(), $rel_err, $rel_msg);
                    }
                    done_tx.send(()).unwrap();
                });
                assert!(!cond.lock_ref().is_held());
                assert!(cond.try_acquire());
                assert_eq!(cond.release(), Ok(()));
            }

            #[test]
            fn zero_timeout_and_past_deadline_time_out_holding_the_lock() {
                let _watchdog = common::watchdog();
                let cond = $make;
                let _g = cond.lock();
                prompt(|| {
                    assert_eq!(cond.wait_timeout(Duration::ZERO), Ok(false));
                    assert_eq!(cond.wait_until(past()), Ok(false));
                    assert_eq!(cond.wait_until(Instant::now()), Ok(false));
                    assert_eq!(cond.wait_for_timeout(|| false, Duration::ZERO), Ok(false));
                    assert_eq!(cond.wait_for_until(|| false, past()), Ok(false));
                    assert_eq!(cond.wait_for_timeout(|| true, Duration::ZERO), Ok(true));
                    for t in HUGE {
                        assert_eq!(cond.wait_for_timeout(|| true, t), Ok(true));
                    }
                    assert_eq!(cond.wait_for_until(|| true, far_future()), Ok(true));
                    assert_eq!(cond.wait_for(|| true), Ok(()));
                });
                assert!(
                    cond.lock_ref().is_held(),
                    "every wait returns holding the lock"
                );
            }

            #[test]
            fn notify_extremes_with_nobody_waiting_are_ok() {
                let _watchdog = common::watchdog();
                let cond = $make;
                let _g = cond.lock();
                for n in [0, 1, usize::MAX] {
                    assert_eq!(cond.notify(n), Ok(()));
                }
                assert_eq!(cond.notify_one(), Ok(()));
                assert_eq!(cond.notify_all(), Ok(()));
                // Nothing was stored up for a later waiter.
                assert_eq!(cond.wait_timeout(Duration::from_millis(10)), Ok(false));
            }

            #[test]
            fn huge_timeouts_wait_for_a_notify() {
                let _watchdog = common::watchdog();
                let cond = $make;
                let registered = AtomicUsize::new(0);
                thread::scope(|s| {
                    let mut ws = Vec::new();
                    for t in HUGE {
                        let (cond, registered) = (&cond, &registered);
                        ws.push(s.spawn(move || {
                            let _g = cond.lock();
                            registered.fetch_add(1, SeqCst);
                            cond.wait_timeout(t)
                        }));
                    }
                    let (cond2, registered2) = (&cond, &registered);
                    ws.push(s.spawn(move || {
                        let _g = cond2.lock();
                        registered2.fetch_add(1, SeqCst);
                        cond2.wait_until(far_future())
                    }));
                    common::until_locked(&cond, || registered.load(SeqCst) == 3);
                    let g = cond.lock();
                    assert_eq!(cond.notify_all(), Ok(()));
                    drop(g);
                    for w in ws {
                        assert_eq!(w.join().unwrap(), Ok(true));
                    }
                });
            }

            #[test]
            fn notify_zero_wakes_nobody() {
                let _watchdog = common::watchdog();
                let cond = $make;
                let registered = AtomicBool::new(false);
                thread::scope(|s| {
                    let w = s.spawn(|| {
                        let _g = cond.lock();
                        registered.store(true, SeqCst);
                        cond.wait_timeout(Duration::from_millis(200))
                    });
                    common::until_locked(&cond, || registered.load(SeqCst));
                    let g = cond.lock();
                    assert_eq!(cond.notify(0), Ok(()));
                    drop(g);
                    assert_eq!(w.join().unwrap(), Ok(false), "notify(0) woke a waiter");
                });
            }

            #[test]
            #[cfg_attr(miri, ignore)]
            fn notify_one_at_a_time_then_usize_max_wakes_the_rest() {
                let _watchdog = common::watchdog();
                let cond = $make;
                let registered = AtomicUsize::new(0);
                let woken = AtomicUsize::new(0);
                thread::scope(|s| {
                    let (ws, tids): (Vec<_>, Vec<_>) = (0..3)
                        .map(|_| {
                            common::spawn_tid(s, || {
                                let _g = cond.lock();
                                registered.fetch_add(1, SeqCst);
                                let r = cond.wait_timeout(Duration::MAX);
                                woken.fetch_add(1, SeqCst);
                                r
                            })
                        })
                        .unzip();
                    common::until_locked(&cond, || registered.load(SeqCst) == 3);
                    let g = cond.lock();
                    assert_eq!(cond.notify(1), Ok(()));
                    drop(g);
                    common::wait_for("one waiter woken", || woken.load(SeqCst) == 1);
                    // A second waiter woken by mistake would have run by now.
                    common::wait_until_settled(&tids);
                    assert_eq!(woken.load(SeqCst), 1, "notify(1) woke more than one");
                    let g = cond.lock();
                    assert_eq!(cond.notify(usize::MAX), Ok(()));
                    drop(g);
                    for w in ws {
                        assert_eq!(w.join().unwrap(), Ok(true));
                    }
                });
                assert_eq!(woken.load(SeqCst), 3);
                assert!(!cond.lock_ref().is_held());
            }

            #[test]
            fn wait_restores_the_recursion_depth() {
                let _watchdog = common::watchdog();
                let cond = $make;
                let depth = if $reentrant { 3 } else { 1 };
                for _ in 0..depth {
                    assert!(cond.acquire_timeout(Duration::ZERO));
                }
                assert_eq!(cond.wait_timeout(Duration::ZERO), Ok(false));
                assert_eq!(cond.wait_until(past()), Ok(false));
                // The lock is really held again, at the same depth.
                for _ in 0..depth {
                    assert_eq!(cond.release(), Ok(()));
                }
                assert_err(cond.release(), $rel_err, $rel_msg);
            }

            #[test]
            fn panic_inside_guard_scope_and_in_the_predicate_does_not_poison() {
                let _watchdog = common::watchdog();
                let cond = $make;
                let msg = panic_message(|| {
                    let _g = cond.lock();
                    panic!("boom under the condition's lock");
                });
                assert_eq!(msg, "boom under the condition's lock");
                assert!(!cond.lock_ref().is_held());

                // A predicate that panics after one timed-out wait: the
                // lock was re-acquired, and the guard frees it.
                let calls = AtomicUsize::new(0);
                let msg = panic_message(|| {
                    let _g = cond.lock();
                    cond.wait_for_timeout(
                        || {
                            if calls.fetch_add(1, SeqCst) == 1 {
                                panic!("pred boom");
                            }
                            false
                        },
                        Duration::from_millis(5),
                    )
                });
                assert_eq!(msg, "pred boom");
                assert_eq!(calls.load(SeqCst), 2);
                assert!(!cond.lock_ref().is_held());
                thread::scope(|s| {
                    s.spawn(|| {
                        let _g = cond.lock();
                        assert_eq!(cond.notify_all(), Ok(()));
                    });
                });
            }

            #[test]
            fn guard_after_manual_release_drops_quietly() {
                let _watchdog = common::watchdog();
                let cond = $make;
                let g = cond.lock();
                assert_eq!(cond.release(), Ok(()));
                drop(g); // the lock's Err swallowed, no panic
                assert!(!cond.lock_ref().is_held());
                assert_all_forms_unacquired(&cond);
            }
        }
    };
}

condition_suite!(
    condition_over_lock,
    make = Condition::with_lock(Lock::new()),
    reentrant = false,
    held_by_anyone = true,
    release_err = (Error::ReleaseUnlocked, "release unlocked lock"),
);

condition_suite!(
    condition_over_rlock,
    make = Condition::new(),
    reentrant = true,
    held_by_anyone = false,
    release_err = (Error::NotOwned, "cannot release un-acquired lock"),
);

condition_suite!(
    condition_over_lock_ref,
    make = Condition::with_lock(&*Box::leak(Box::new(Lock::new()))),
    reentrant = false,
    held_by_anyone = true,
    release_err = (Error::ReleaseUnlocked, "release unlocked lock"),
);

condition_suite!(
    condition_over_arc_rlock,
    make = Condition::with_lock(Arc::new(RLock::new())),
    reentrant = true,
    held_by_anyone = false,
    release_err = (Error::NotOwned, "cannot release un-acquired lock"),
);

mod condition_shared_lock {
    use super::*;

    #[test]
    fn notify_by_a_non_holder_while_another_thread_holds_the_lock_delivers() {
        // Condition<&Lock>: the waiter waits, thread B takes the Lock, and
        // this thread (holding nothing) notifies: allowed for a Lock (held
        // by anyone), and the waiter must wake once B releases.
        let _watchdog = common::watchdog();
        let lock = Lock::new();
        let cond = Condition::with_lock(&lock);
        let registered = AtomicBool::new(false);
        thread::scope(|s| {
            let w = s.spawn(|| {
                let _g = cond.lock();
                registered.store(true, SeqCst);
                cond.wait_timeout(Duration::MAX)
            });
            common::until_locked(&cond, || registered.load(SeqCst));
            lock.acquire(); // "thread B" is us, via the raw lock...
            let holder = s.spawn(|| {
                // ...and the notifier is another thread holding nothing.
                assert_eq!(cond.notify_one(), Ok(()));
            });
            holder.join().unwrap();
            lock.release().unwrap();
            assert_eq!(w.join().unwrap(), Ok(true));
        });
        assert!(!lock.locked());
    }

    #[test]
    fn arc_rlock_shared_with_other_code_counts_only_the_owner() {
        let _watchdog = common::watchdog();
        let r = Arc::new(RLock::new());
        let cond = Condition::with_lock(Arc::clone(&r));
        r.acquire();
        r.acquire();
        assert_eq!(cond.notify_all(), Ok(()));
        assert_eq!(cond.wait_timeout(Duration::ZERO), Ok(false));
        assert_eq!(r.recursion_count(), 2);
        thread::scope(|s| {
            s.spawn(|| assert_all_forms_unacquired(&cond));
        });
        r.release().unwrap();
        r.release().unwrap();
        assert_all_forms_unacquired(&cond);
        let inner: Arc<RLock> = cond.into_inner();
        assert!(Arc::ptr_eq(&inner, &r));
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn notify_from_three_levels_deep_delivers_on_the_last_release() {
        let _watchdog = common::watchdog();
        let cond = Condition::new();
        let registered = AtomicBool::new(false);
        thread::scope(|s| {
            let (w, tid) = common::spawn_tid(s, || {
                let _g = cond.lock();
                registered.store(true, SeqCst);
                cond.wait_timeout(Duration::MAX)
            });
            common::until_locked(&cond, || registered.load(SeqCst));
            let (a, b, c) = (cond.lock(), cond.lock(), cond.lock());
            assert_eq!(cond.notify(usize::MAX), Ok(()));
            drop(c);
            drop(a); // wrong order: still one level held
            // Had it woken, the waiter would have run by now.
            common::wait_until_settled(&[tid]);
            assert!(
                !w.is_finished(),
                "woke while the notifier still owns the RLock"
            );
            drop(b);
            assert_eq!(w.join().unwrap(), Ok(true));
        });
        assert!(!cond.lock_ref().locked());
    }

    #[test]
    fn debug_never_blocks_while_the_lock_is_held_elsewhere() {
        let _watchdog = common::watchdog();
        let cond = Condition::with_lock(Lock::new());
        let _g = cond.lock();
        thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(
                    format!("{cond:?}"),
                    "Condition { lock: Lock { locked: true }, waiters: 0 }"
                )
            });
        });
    }
}
