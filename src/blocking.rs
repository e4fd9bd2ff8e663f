//! The blocking forms, written once.
//!
//! Every blocking call of every primitive has four forms (API.md): blocking
//! (`acquire`, `wait`), non-blocking (`try_…`), relative (`…_timeout`,
//! a `Duration`) and absolute (`…_until`, an `Instant`); what is acquired
//! also has guard forms. A primitive writes one *deadline-taking core* and
//! the macros here derive the public forms from it, with their docs and a
//! runnable example each:
//!
//! | macro | forms it writes | the core it calls | used by |
//! |---|---|---|---|
//! | [`acquire_forms!`] | `acquire`, `try_acquire`, `acquire_timeout`, `acquire_until` | [`RawAcquire`], through [`acquire`] | `Lock`, `RLock`, the semaphores, a `Condition`'s lock, their `process` twins |
//! | [`guard_forms!`] | the same four returning a guard (`lock`…, `access`…) | [`RawAcquire`] and a guard constructor | `Lock`, `RLock`, the semaphores, their `process` twins (and the `Gil`, whose `acquire` forms are guard forms) |
//! | [`event_forms!`] | `wait`, `try_wait`, `wait_timeout`, `wait_until` | [`RawAcquire`] | `Event`, `process::Event` |
//! | [`condition_forms!`] | `wait`, `wait_timeout`, `wait_until`, `wait_for`… | `wait_core(Deadline)`, `wait_for_core(pred, Deadline)` | `Condition`, `process::Condition` |
//! | [`barrier_forms!`] | `wait`, `wait_timeout`, `wait_until` | `wait_core(Deadline)` | `Barrier`, `process::Barrier` |
//! | [`condition_guard!`] | the `ConditionGuard` type (releases on drop) | the bound lock's `release` | `Condition`, `process::Condition` |
//!
//! # One timeout rule
//! Every form turns its argument into a [`Deadline`] the same way
//! ([`Deadline::after`], [`Deadline::At`]): `Duration::ZERO`, and a deadline
//! already past, are exactly one non-blocking try (no spin, no yield, no
//! park); `Duration::MAX`, or any timeout `Instant` cannot represent, waits
//! forever. `src/blocking/tests.rs` checks it for every type, counting the
//! calling thread's spins, yields and parks.
//!
//! # Speed
//! The generated forms are `#[inline]`, and so is [`acquire`]: with the
//! deadline a constant, `acquire()` compiles to the type's inlined
//! [`RawAcquire::try_fast`] (one CAS) and a call of its `#[cold]
//! #[inline(never)]` slow path, exactly what the hand-written forms were.
//!
//! # Writing a new primitive
//! Implement [`RawAcquire`] (or write a `wait_core(&self, Deadline)`), and
//! invoke the macro inside the type's `impl` block: one line, whose
//! arguments are the words the docs use (what is taken, the Python
//! variable, a constructor for the example).

use crate::deadline::Deadline;
use std::time::Instant;

/// An acquire-like state machine, from which [`acquire`] (and so every
/// generated form) is built. (`pub` only so that a sealed public trait,
/// `ConditionLock`, may have it as a supertrait; the module is private.) `acquire` is the one place that decides which
/// of the three to call for a [`Deadline`].
pub trait RawAcquire {
    /// The uncontended attempt every waiting form inlines: usually one CAS.
    /// It may fail where [`try_acquire`](RawAcquire::try_acquire) would
    /// succeed (a weak CAS, a contended word); the slow path then decides.
    #[inline]
    fn try_fast(&self) -> bool {
        self.try_acquire()
    }

    /// One complete non-blocking attempt: succeeds if what is acquired is
    /// available now. Never spins, yields or parks.
    fn try_acquire(&self) -> bool;

    /// Waits until acquired or until `deadline` (`None`: forever); whether
    /// it acquired. Called only after `try_fast` failed, with a deadline not
    /// found past. `#[cold] #[inline(never)]` in every implementation, so
    /// the forms stay small.
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool;
}

/// A borrowed lock is acquired like the lock (a `Condition<&L>`).
impl<R: RawAcquire + ?Sized> RawAcquire for &R {
    #[inline]
    fn try_fast(&self) -> bool {
        R::try_fast(self)
    }
    #[inline]
    fn try_acquire(&self) -> bool {
        R::try_acquire(self)
    }
    #[inline]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        R::acquire_slow(self, deadline)
    }
}

/// A shared lock is acquired like the lock (a `Condition<Arc<L>>`).
impl<R: RawAcquire + ?Sized> RawAcquire for std::sync::Arc<R> {
    #[inline]
    fn try_fast(&self) -> bool {
        R::try_fast(self)
    }
    #[inline]
    fn try_acquire(&self) -> bool {
        R::try_acquire(self)
    }
    #[inline]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        R::acquire_slow(self, deadline)
    }
}

/// The core of every acquire-like form: the one timeout rule, applied.
/// Always inlined: each form passes a constant variant, so the match folds
/// away and the form is `try_fast` plus a call (everything that reads the
/// clock is behind that call).
#[inline(always)]
pub(crate) fn acquire<R: RawAcquire + ?Sized>(raw: &R, deadline: Deadline) -> bool {
    match deadline {
        Deadline::Never => raw.try_fast() || raw.acquire_slow(None),
        Deadline::Now => raw.try_acquire(),
        Deadline::After(d) => raw.try_fast() || acquire_after(raw, d),
        Deadline::At(t) => raw.try_fast() || acquire_until(raw, t),
    }
}

/// After a failed fast attempt, a timeout (not zero, so a real wait): the
/// clock is read only now.
#[inline(never)]
fn acquire_after<R: RawAcquire + ?Sized>(raw: &R, timeout: std::time::Duration) -> bool {
    raw.acquire_slow(crate::deadline::after(timeout))
}

/// After a failed fast attempt: a past deadline is a try, a future one a
/// wait.
#[inline(never)]
fn acquire_until<R: RawAcquire + ?Sized>(raw: &R, t: Instant) -> bool {
    if Deadline::At(t).is_now() {
        raw.try_acquire()
    } else {
        raw.acquire_slow(Some(t))
    }
}

/// A condition's `wait` core, for both conditions: `Err(WaitUnacquired)`
/// unless the caller holds the lock (`held`); a try keeps the lock and is
/// `Ok(false)` (nothing can notify a waiter that does not wait); else
/// `wait` (the state machine's) until the deadline's instant.
#[inline]
pub(crate) fn condition_wait(
    held: bool,
    deadline: Deadline,
    wait: impl FnOnce(Option<Instant>) -> Result<bool, crate::Error>,
) -> Result<bool, crate::Error> {
    if !held {
        Err(crate::Error::WaitUnacquired)
    } else if deadline.is_now() {
        Ok(false)
    } else {
        wait(deadline.instant())
    }
}

/// A condition's `wait_for` core, for both conditions: `pred` first (with
/// the lock held: `held`, else `Err(WaitUnacquired)`), then `wait` (given
/// the deadline, fixed once for the whole call) until it is true or the
/// deadline has passed; `Ok` of pred's last value. A try evaluates `pred`
/// once.
pub(crate) fn condition_wait_for(
    held: bool,
    pred: &mut dyn FnMut() -> bool,
    deadline: Deadline,
    mut wait: impl FnMut(Deadline) -> Result<bool, crate::Error>,
) -> Result<bool, crate::Error> {
    if !held {
        return Err(crate::Error::WaitUnacquired);
    }
    let deadline = deadline.fixed();
    loop {
        if pred() {
            return Ok(true);
        }
        if deadline.is_now() {
            return Ok(false);
        }
        wait(deadline)?;
    }
}

/// One public form: its docs (`#[doc]` attributes), signature, and a body
/// that sees `self` as `$this` and the form's [`Deadline`] as `$dl`.
/// `self` is passed on by name because macro hygiene would hide it from
/// a body written in another macro.
macro_rules! form {
    (
        $(#[$attr:meta])*
        fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;
        let $this:ident = self, $dl:ident = $deadline:expr;
        $body:expr
    ) => {
        $(#[$attr])*
        #[inline]
        pub fn $name(&self, $($arg: $ty),*) -> $ret {
            let $this = self;
            let $dl: $crate::deadline::Deadline = $deadline;
            $body
        }
    };
}
pub(crate) use form;

/// The timeout rule's sentence in a form's docs.
macro_rules! rule {
    (timeout) => {
        "`Duration::ZERO` is exactly one non-blocking try: no spinning, \
         yielding or parking. `Duration::MAX`, or any timeout too large for \
         `Instant`, waits forever."
    };
    (until) => {
        "A deadline already past is exactly one non-blocking try: no \
         spinning, yielding or parking."
    };
    (try) => {
        "It never spins, yields or parks."
    };
}
pub(crate) use rule;

/// A generated doc example: `let {var} = {new};`, then `lines`, in a doc
/// test (inside a region for `process` types).
macro_rules! example {
    ($($p:ident)?; $var:literal = $new:literal; $($line:tt)*) => {
        concat!(
            "```\n",
            $crate::blocking::example!(@open $($p)?),
            "let ", $var, " = ", $new, ";\n",
            $($line)*,
            $crate::blocking::example!(@close $($p)?),
            "\n```"
        )
    };
    (@open) => { "" };
    (@open process) => { "let r = pysync::process::Region::anonymous(1 << 20)?;\n" };
    (@close) => { "" };
    (@close process) => { "\n# Ok::<(), Box<dyn std::error::Error>>(())" };
}
pub(crate) use example;

/// `acquire`, `try_acquire`, `acquire_timeout`, `acquire_until` (`bool`)
/// from a [`RawAcquire`]: `acquire_forms!("the lock", "lock" =
/// "pysync::Lock::new()"; |s| s)` inside the type's `impl`; `$what` is what
/// is taken, `$py` the Python variable of the docs, `$new` an expression
/// for an available one (`in process`: inside a region `r`), `|s| raw` how
/// to reach the `RawAcquire` from `&self`.
macro_rules! acquire_forms {
    ($what:literal, $py:literal = $new:literal $(in $p:ident)?; |$s:ident| $raw:expr) => {
        $crate::blocking::form! {
            #[doc = concat!("Takes ", $what, ", blocking until it can (Python's `", $py, ".acquire()`).")]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; $py, ".acquire();")]
            fn acquire() -> ();
            let this = self, d = $crate::deadline::Deadline::Never;
            {
                let $s = this;
                $crate::blocking::acquire($raw, d);
            }
        }
        $crate::blocking::form! {
            #[doc = concat!("Takes ", $what, " if it can without waiting; whether it did (Python's `", $py, ".acquire(blocking=False)`).")]
            #[doc = $crate::blocking::rule!(try)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "assert!(", $py, ".try_acquire());")]
            fn try_acquire() -> bool;
            let this = self, d = $crate::deadline::Deadline::Now;
            { let $s = this; $crate::blocking::acquire($raw, d) }
        }
        $crate::blocking::form! {
            #[doc = concat!("Takes ", $what, ", waiting at most `timeout`; whether it did (Python's `", $py, ".acquire(timeout=t)`).")]
            #[doc = $crate::blocking::rule!(timeout)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "use std::time::Duration;\n", "assert!(", $py, ".acquire_timeout(Duration::from_millis(5)));")]
            fn acquire_timeout(timeout: std::time::Duration) -> bool;
            let this = self, d = $crate::deadline::Deadline::after(timeout);
            { let $s = this; $crate::blocking::acquire($raw, d) }
        }
        $crate::blocking::form! {
            #[doc = concat!("Takes ", $what, ", waiting until `deadline` at the latest; whether it did.")]
            #[doc = $crate::blocking::rule!(until)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "use std::time::{Duration, Instant};\n", "assert!(", $py, ".acquire_until(Instant::now() + Duration::from_millis(5)));")]
            fn acquire_until(deadline: std::time::Instant) -> bool;
            let this = self, d = $crate::deadline::Deadline::At(deadline);
            { let $s = this; $crate::blocking::acquire($raw, d) }
        }
    };
}
pub(crate) use acquire_forms;

/// The four forms returning a guard: `guard_forms!("the lock", "lock" =
/// "pysync::Lock::new()"; lock, try_lock, lock_timeout, lock_until ->
/// LockGuard<'_> = |s| LockGuard { lock: s }; |s| s)`. The guard is built
/// only once acquired (a failed form builds none, so it can release
/// nothing); then as [`acquire_forms!`].
macro_rules! guard_forms {
    (
        $what:literal, $py:literal = $new:literal $(in $p:ident)?;
        $b:ident, $t:ident, $d:ident, $u:ident -> $guard:ty = |$g:ident| $make:expr;
        |$s:ident| $raw:expr
    ) => {
        $crate::blocking::form! {
            #[doc = concat!("Takes ", $what, ", blocking until it can, and returns a guard that gives it back when dropped (Python's `with ", $py, ":`).")]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "let guard = ", $py, ".", stringify!($b), "();\n", "drop(guard);")]
            fn $b() -> $guard;
            let this = self, d = $crate::deadline::Deadline::Never;
            {
                let $s = this;
                $crate::blocking::acquire($raw, d);
                let $g = this;
                $make
            }
        }
        $crate::blocking::form! {
            #[doc = concat!("A guard, if ", $what, " can be taken without waiting.")]
            #[doc = $crate::blocking::rule!(try)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "assert!(", $py, ".", stringify!($t), "().is_some());")]
            fn $t() -> Option<$guard>;
            let this = self, d = $crate::deadline::Deadline::Now;
            {
                let $s = this;
                $crate::blocking::acquire($raw, d).then(|| { let $g = this; $make })
            }
        }
        $crate::blocking::form! {
            #[doc = concat!("A guard, if ", $what, " can be taken within `timeout`.")]
            #[doc = $crate::blocking::rule!(timeout)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "use std::time::Duration;\n", "assert!(", $py, ".", stringify!($d), "(Duration::from_millis(5)).is_some());")]
            fn $d(timeout: std::time::Duration) -> Option<$guard>;
            let this = self, d = $crate::deadline::Deadline::after(timeout);
            {
                let $s = this;
                $crate::blocking::acquire($raw, d).then(|| { let $g = this; $make })
            }
        }
        $crate::blocking::form! {
            #[doc = concat!("A guard, if ", $what, " can be taken by `deadline`.")]
            #[doc = $crate::blocking::rule!(until)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "use std::time::{Duration, Instant};\n", "assert!(", $py, ".", stringify!($u), "(Instant::now() + Duration::from_millis(5)).is_some());")]
            fn $u(deadline: std::time::Instant) -> Option<$guard>;
            let this = self, d = $crate::deadline::Deadline::At(deadline);
            {
                let $s = this;
                $crate::blocking::acquire($raw, d).then(|| { let $g = this; $make })
            }
        }
    };
}
pub(crate) use guard_forms;

/// An event's four waits (`bool`: whether the flag was set, or a `set`
/// woke the waiter) from a [`RawAcquire`] whose "acquire" is seeing the
/// flag: `event_forms!("ev" = "pysync::Event::new()"; |s| s)`.
macro_rules! event_forms {
    ($py:literal = $new:literal $(in $p:ident)?; |$s:ident| $raw:expr) => {
        $crate::blocking::form! {
            #[doc = concat!("Blocks until the flag is set (Python's `", $py, ".wait()`); at once if it is.")]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; $py, ".set();\n", $py, ".wait();")]
            fn wait() -> ();
            let this = self, d = $crate::deadline::Deadline::Never;
            {
                let $s = this;
                $crate::blocking::acquire($raw, d);
            }
        }
        $crate::blocking::form! {
            #[doc = "Whether the flag is set, without waiting."]
            #[doc = $crate::blocking::rule!(try)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "assert!(!", $py, ".try_wait());\n", $py, ".set();\n", "assert!(", $py, ".try_wait());")]
            fn try_wait() -> bool;
            let this = self, d = $crate::deadline::Deadline::Now;
            { let $s = this; $crate::blocking::acquire($raw, d) }
        }
        $crate::blocking::form! {
            #[doc = concat!("Waits at most `timeout` for the flag (Python's `", $py, ".wait(timeout=t)`): `true` if it was set, or a `set` woke this waiter (even if `clear` followed at once); `false` on timeout.")]
            #[doc = $crate::blocking::rule!(timeout)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "use std::time::Duration;\n", "assert!(!", $py, ".wait_timeout(Duration::from_millis(5)));\n", $py, ".set();\n", "assert!(", $py, ".wait_timeout(Duration::ZERO));")]
            fn wait_timeout(timeout: std::time::Duration) -> bool;
            let this = self, d = $crate::deadline::Deadline::after(timeout);
            { let $s = this; $crate::blocking::acquire($raw, d) }
        }
        $crate::blocking::form! {
            #[doc = "Waits until `deadline` at the latest for the flag; as `wait_timeout`."]
            #[doc = $crate::blocking::rule!(until)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "use std::time::{Duration, Instant};\n", "assert!(!", $py, ".wait_until(Instant::now() + Duration::from_millis(5)));")]
            fn wait_until(deadline: std::time::Instant) -> bool;
            let this = self, d = $crate::deadline::Deadline::At(deadline);
            { let $s = this; $crate::blocking::acquire($raw, d) }
        }
    };
}
pub(crate) use event_forms;

/// A condition's waits, from `wait_core(&self, Deadline) -> Result<bool,
/// Error>` (`Ok(true)`: notified) and `wait_for_core(&self, &mut dyn FnMut()
/// -> bool, Deadline) -> Result<bool, Error>` (pred's last value):
/// `condition_forms!("cond" = "pysync::Condition::new()")`. The examples
/// hold the lock (`let _g = cond.lock();`).
macro_rules! condition_forms {
    ($py:literal = $new:literal $(in $p:ident)?) => {
        $crate::blocking::form! {
            #[doc = concat!("Releases the lock, waits until notified, re-acquires the lock (Python's `", $py, ".wait()`); [`Error::WaitUnacquired`](crate::Error::WaitUnacquired) if the caller does not hold the lock. On an RLock-bound condition every recursion level is released and restored.")]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "assert_eq!(", $py, ".wait(), Err(pysync::Error::WaitUnacquired));")]
            fn wait() -> Result<(), crate::Error>;
            let this = self, d = $crate::deadline::Deadline::Never;
            this.wait_core(d).map(|_| ())
        }
        $crate::blocking::form! {
            #[doc = concat!("Like `wait`, for at most `timeout` (Python's `", $py, ".wait(timeout=t)`): `Ok(true)` if notified, `Ok(false)` on timeout; the lock is held again either way.")]
            #[doc = concat!($crate::blocking::rule!(timeout), " A try keeps the lock: nothing can notify a waiter that does not wait (Python's `wait(0)` releases the lock for a moment and takes it back, blocking if another thread took it meanwhile).")]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "use std::time::Duration;\n", "let _g = ", $py, ".lock();\n", "assert_eq!(", $py, ".wait_timeout(Duration::from_millis(5)), Ok(false));")]
            fn wait_timeout(timeout: std::time::Duration) -> Result<bool, crate::Error>;
            let this = self, d = $crate::deadline::Deadline::after(timeout);
            this.wait_core(d)
        }
        $crate::blocking::form! {
            #[doc = "Like `wait_timeout`, until `deadline` at the latest."]
            #[doc = $crate::blocking::rule!(until)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "let _g = ", $py, ".lock();\n", "assert_eq!(", $py, ".wait_until(std::time::Instant::now()), Ok(false));")]
            fn wait_until(deadline: std::time::Instant) -> Result<bool, crate::Error>;
            let this = self, d = $crate::deadline::Deadline::At(deadline);
            this.wait_core(d)
        }
        $crate::blocking::form! {
            #[doc = concat!("Waits until `pred()` is true (Python's `", $py, ".wait_for(pred)`); `pred` runs with the lock held, first before any waiting. Unlike Python, which only complains if it has to wait, this is [`Error::WaitUnacquired`](crate::Error::WaitUnacquired) whenever the lock is not held.")]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "let _g = ", $py, ".lock();\n", $py, ".wait_for(|| true).unwrap(); // true at once: no waiting")]
            fn wait_for(pred: impl FnMut() -> bool) -> Result<(), crate::Error>;
            let this = self, d = $crate::deadline::Deadline::Never;
            {
                let mut pred = pred;
                this.wait_for_core(&mut pred, d).map(|_| ())
            }
        }
        $crate::blocking::form! {
            #[doc = concat!("Waits at most `timeout` until `pred()` is true (Python's `", $py, ".wait_for(pred, timeout)`): `Ok` of pred's last value. `pred` is checked first, and once more after the time runs out.")]
            #[doc = $crate::blocking::rule!(timeout)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "use std::time::Duration;\n", "let _g = ", $py, ".lock();\n", "assert_eq!(", $py, ".wait_for_timeout(|| false, Duration::from_millis(5)), Ok(false));\n", "assert_eq!(", $py, ".wait_for_timeout(|| true, Duration::ZERO), Ok(true));")]
            fn wait_for_timeout(pred: impl FnMut() -> bool, timeout: std::time::Duration) -> Result<bool, crate::Error>;
            let this = self, d = $crate::deadline::Deadline::after(timeout);
            {
                let mut pred = pred;
                this.wait_for_core(&mut pred, d)
            }
        }
        $crate::blocking::form! {
            #[doc = "Like `wait_for_timeout`, until `deadline` at the latest."]
            #[doc = $crate::blocking::rule!(until)]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "let _g = ", $py, ".lock();\n", "assert_eq!(", $py, ".wait_for_until(|| false, std::time::Instant::now()), Ok(false));")]
            fn wait_for_until(pred: impl FnMut() -> bool, deadline: std::time::Instant) -> Result<bool, crate::Error>;
            let this = self, d = $crate::deadline::Deadline::At(deadline);
            {
                let mut pred = pred;
                this.wait_for_core(&mut pred, d)
            }
        }
    };
}
pub(crate) use condition_forms;

/// A barrier's waits, from `wait_core(&self, Deadline) -> Result<usize,
/// Error>` and `default_deadline(&self) -> Deadline` (its default timeout):
/// `barrier_forms!("b" = "pysync::Barrier::new(1)")`.
macro_rules! barrier_forms {
    ($py:literal = $new:literal $(in $p:ident)?) => {
        $crate::blocking::form! {
            #[doc = concat!("Waits until every party has called `wait` (Python's `", $py, ".wait()`), or until the default timeout, if the barrier has one: `Ok(index)`, the arrival index in `0..parties`, unique within the round; [`Err(Error::BrokenBarrier)`](crate::Error::BrokenBarrier) if the barrier is or becomes broken (aborted, reset while waiting, timed out, or the action panicked).")]
            #[doc = ""]
            #[doc = "# Panics"]
            #[doc = "If this thread runs the action and it panics (after breaking the round)."]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "assert_eq!(", $py, ".wait(), Ok(0)); // one party never waits")]
            fn wait() -> Result<usize, crate::Error>;
            let this = self, d = this.default_deadline();
            this.wait_core(d)
        }
        $crate::blocking::form! {
            #[doc = concat!("Waits at most `timeout` (Python's `", $py, ".wait(timeout)`). If it times out before the round completes, the barrier breaks and every party gets `Err(Error::BrokenBarrier)`, like Python; a timeout that fires once every party has arrived does not break the round.")]
            #[doc = concat!($crate::blocking::rule!(timeout), " A try arrives, and breaks the barrier at once unless it is the last party.")]
            #[doc = ""]
            #[doc = "# Panics"]
            #[doc = "As `wait`."]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "use std::time::Duration;\n", "assert_eq!(", $py, ".wait_timeout(Duration::from_millis(5)), Ok(0));")]
            fn wait_timeout(timeout: std::time::Duration) -> Result<usize, crate::Error>;
            let this = self, d = $crate::deadline::Deadline::after(timeout);
            this.wait_core(d)
        }
        $crate::blocking::form! {
            #[doc = "Waits until `deadline` at the latest; as `wait_timeout`."]
            #[doc = $crate::blocking::rule!(until)]
            #[doc = ""]
            #[doc = "# Panics"]
            #[doc = "As `wait`."]
            #[doc = ""]
            #[doc = $crate::blocking::example!($($p)?; $py = $new; "assert_eq!(", $py, ".wait_until(std::time::Instant::now()), Ok(0));")]
            fn wait_until(deadline: std::time::Instant) -> Result<usize, crate::Error>;
            let this = self, d = $crate::deadline::Deadline::At(deadline);
            this.wait_core(d)
        }
    };
}
pub(crate) use barrier_forms;

/// A condition's guard type, `ConditionGuard<'a, L>` (for the `Condition`
/// and `ConditionLock` in scope): holds the condition, is `!Send` (an RLock
/// must be released by its owner) and releases one level of the lock on
/// drop. `condition_guard!(#[doc = ...] "ConditionGuard"; |c| &c.raw.lock)`:
/// the docs, the name `Debug` shows, and where the bound lock is.
macro_rules! condition_guard {
    ($(#[$attr:meta])* $debug:literal; |$c:ident| $lock:expr) => {
        $(#[$attr])*
        #[must_use = "the lock is released as soon as the guard is dropped"]
        pub struct ConditionGuard<'a, L: ConditionLock> {
            cond: &'a Condition<L>,
            _not_send: core::marker::PhantomData<*const ()>,
        }

        impl<'a, L: ConditionLock> ConditionGuard<'a, L> {
            /// The guard of a lock the caller just acquired.
            #[inline]
            fn new(cond: &'a Condition<L>) -> Self {
                ConditionGuard { cond, _not_send: core::marker::PhantomData }
            }
        }

        impl<L: ConditionLock> Drop for ConditionGuard<'_, L> {
            #[inline]
            fn drop(&mut self) {
                // The guard proves the acquisition; an Err only means the
                // caller (or, for a Lock, another thread) already released
                // it by hand.
                let $c = self.cond;
                let _ = $lock.release();
            }
        }

        impl<L: ConditionLock + core::fmt::Debug> core::fmt::Debug for ConditionGuard<'_, L> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct($debug).field("cond", self.cond).finish()
            }
        }
    };
}
pub(crate) use condition_guard;

#[cfg(test)]
mod tests;
