//! Two threads, two locks, opposite order: the classic deadlock — detected,
//! then avoided two ways.
//!
//! 1. Detection (needs the `deadlock_detection` feature): thread 1 takes A
//!    then B, thread 2 takes B then A; a watchdog thread finds the cycle with
//!    `pysync::deadlock::check_deadlock()` and prints who is stuck where.
//! 2. Avoidance by lock ordering: every thread takes the locks in one global
//!    order, so no cycle can form.
//! 3. Avoidance by timeouts: take the second lock with `acquire_timeout`; on
//!    timeout, release the first, back off, and retry.
//!
//! ```text
//! cargo run --example deadlock --features deadlock_detection   # all three
//! cargo run --example deadlock                                  # 2 and 3
//! ```

use pysync::{Lock, Mutex};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

fn main() {
    detection();
    lock_ordering();
    timeouts();
}

// ----- 1. detection ---------------------------------------------------------

/// Takes `first`, waits until the other worker holds its own first lock,
/// then takes `second`: with the other worker doing the same in the opposite
/// order, both block for ever.
#[cfg(feature = "deadlock_detection")]
#[inline(never)]
fn take_both(first: &Lock, second: &Lock, both_hold_one: &Barrier) {
    first.acquire();
    both_hold_one.wait();
    second.acquire();
    unreachable!("a deadlocked thread never gets here");
}

#[cfg(feature = "deadlock_detection")]
fn detection() {
    use std::collections::HashMap;
    // Statics: the deadlocked workers keep them (and themselves) for ever.
    static A: Lock = Lock::new();
    static B: Lock = Lock::new();
    static BOTH_HOLD_ONE: Barrier = Barrier::new(2);

    println!("1. Detection: thread 1 takes A then B, thread 2 takes B then A.");
    let spawn = |name: &str, first: &'static Lock, second: &'static Lock| {
        thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || take_both(first, second, &BOTH_HOLD_ONE))
            .expect("spawn")
    };
    let t1 = spawn("worker-1 (A then B)", &A, &B);
    let t2 = spawn("worker-2 (B then A)", &B, &A);
    let names: HashMap<_, _> = [&t1, &t2]
        .iter()
        .map(|t| (t.thread().id(), t.thread().name().unwrap_or("?").to_owned()))
        .collect();

    let start = Instant::now();
    let watchdog = thread::spawn(move || {
        while start.elapsed() < Duration::from_secs(10) {
            let cycles = pysync::deadlock::check_deadlock();
            if !cycles.is_empty() {
                return Some(cycles);
            }
            thread::sleep(Duration::from_millis(50));
        }
        None
    });
    match watchdog.join().expect("watchdog") {
        None => println!("   watchdog: no deadlock seen in 10 s (unexpected)"),
        Some(cycles) => {
            println!(
                "   watchdog: {} deadlock cycle(s) found (backtraces included) after {:.0} ms:",
                cycles.len(),
                start.elapsed().as_secs_f64() * 1e3
            );
            for (i, cycle) in cycles.iter().enumerate() {
                println!("   cycle {}: {} threads", i + 1, cycle.len());
                for t in cycle {
                    let name = names.get(&t.thread_id()).map_or("?", String::as_str);
                    println!("     {:?} \"{name}\", top frames:", t.thread_id());
                    for frame in t.frames().iter().take(4) {
                        println!("       {frame}");
                    }
                }
            }
        }
    }
    println!(
        "   The detector keeps reported threads blocked for ever (and the locks they\n   \
         hold stay held); we leave them be: the process exits when main returns.\n"
    );
    // t1 and t2 are deliberately not joined.
    drop((t1, t2));
}

#[cfg(not(feature = "deadlock_detection"))]
fn detection() {
    println!("1. Detection: skipped, the deadlock_detection feature is off. Run");
    println!("   cargo run --example deadlock --features deadlock_detection");
    println!("   to see two threads deadlock and a watchdog thread report the cycle.\n");
}

// ----- 2. lock ordering -----------------------------------------------------

const TRANSFERS: usize = 20_000;

/// Moves `amount` from `from` to `to`, locking the two accounts in one
/// global order (by address) whichever way the money goes.
fn transfer(from: &Mutex<i64>, to: &Mutex<i64>, amount: i64) {
    let from_first = (from as *const Mutex<i64>) < (to as *const Mutex<i64>);
    let (mut f, mut t) = if from_first {
        let f = from.lock();
        (f, to.lock())
    } else {
        let t = to.lock();
        (from.lock(), t)
    };
    *f -= amount;
    *t += amount;
}

fn lock_ordering() {
    println!("2. Lock ordering: both threads lock the two accounts in address order,");
    println!("   though thread 1 moves money A→B and thread 2 B→A.");
    let (a, b) = (Mutex::new(1_000i64), Mutex::new(1_000i64));
    let start = Instant::now();
    thread::scope(|s| {
        s.spawn(|| (0..TRANSFERS).for_each(|_| transfer(&a, &b, 1)));
        s.spawn(|| (0..TRANSFERS).for_each(|_| transfer(&b, &a, 2)));
    });
    let (a, b) = (a.into_inner(), b.into_inner());
    println!(
        "   {} transfers each way in {:.1} ms, no deadlock; A = {a}, B = {b}, total {} (was 2000).\n",
        TRANSFERS,
        start.elapsed().as_secs_f64() * 1e3,
        a + b
    );
}

// ----- 3. timeouts ----------------------------------------------------------

/// Takes `first` then `second` in the deadlock-prone order, but gives up on
/// `second` after a short timeout, releases `first`, backs off and retries.
/// Returns how many times it had to back off.
fn take_both_or_back_off(first: &Lock, second: &Lock, backoff: Duration) -> usize {
    let mut retries = 0;
    loop {
        first.acquire();
        // Some work with the first lock held: long enough for the other
        // thread to take its own first lock, so the two really collide.
        thread::sleep(Duration::from_micros(20));
        if second.acquire_timeout(Duration::from_millis(1)) {
            // Critical section with both locks held.
            second.release().expect("held");
            first.release().expect("held");
            return retries;
        }
        // Could not get the second lock: give the first one back so the
        // other thread can finish, wait a little, try again.
        first.release().expect("held");
        retries += 1;
        thread::sleep(backoff * (retries as u32 % 4 + 1));
    }
}

fn timeouts() {
    const ROUNDS: usize = 300;
    println!("3. Timeouts: opposite order again (thread 1 A then B, thread 2 B then A), but");
    println!("   the second lock is taken with acquire_timeout(1 ms); on timeout the thread");
    println!("   releases the first lock, backs off and retries.");
    let (a, b) = (Lock::new(), Lock::new());
    let together = Barrier::new(2);
    let start = Instant::now();
    let (r1, r2) = thread::scope(|s| {
        // Different back-offs break the symmetry, so retries converge.
        let t1 = s.spawn(|| {
            together.wait();
            (0..ROUNDS)
                .map(|_| take_both_or_back_off(&a, &b, Duration::from_micros(50)))
                .sum::<usize>()
        });
        let t2 = s.spawn(|| {
            together.wait();
            (0..ROUNDS)
                .map(|_| take_both_or_back_off(&b, &a, Duration::from_micros(130)))
                .sum::<usize>()
        });
        (t1.join().expect("t1"), t2.join().expect("t2"))
    });
    println!(
        "   {ROUNDS} rounds each in {:.1} ms, no deadlock: thread 1 backed off {r1} times, thread 2 {r2} times.",
        start.elapsed().as_secs_f64() * 1e3
    );
    assert!(!a.locked() && !b.locked());
}
