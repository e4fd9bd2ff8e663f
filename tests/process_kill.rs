//! `pysync::process` across real processes: the test binary spawns itself
//! as children (never `fork` in this threaded process), kills holders with
//! SIGKILL mid-section, and checks that nothing is lost.
//!
//! A child runs `child_role` (below) with `PYSYNC_ROLE` and `PYSYNC_REGION`
//! set; run normally, `child_role` does nothing. Every child is killed when
//! its `Kid` handle drops, so a failing test leaves no process behind.
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use pysync::process::Region;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The promised bound: a dead holder's lock reaches the next acquirer
/// within this (module docs of `pysync::process`).
const BOUND: Duration = Duration::from_millis(100);

/// A named region for one test, unlinked at the end.
struct Shared {
    name: String,
    region: Region,
}

impl Shared {
    fn new(tag: &str) -> Shared {
        let name = format!("/pysync-kill-{tag}-{}", std::process::id());
        let _ = Region::unlink(&name);
        let region = Region::create(&name, 1 << 20).expect("create the region");
        Shared { name, region }
    }

    /// Spawns this test binary as a child in `role`.
    fn spawn(&self, role: &str) -> Kid {
        self.spawn_with(role, &[])
    }

    fn spawn_with(&self, role: &str, env: &[(&str, String)]) -> Kid {
        let mut cmd = Command::new(std::env::current_exe().expect("the test binary"));
        cmd.args(["child_role", "--exact", "--nocapture", "--test-threads=1"])
            .env("PYSYNC_ROLE", role)
            .env("PYSYNC_REGION", &self.name)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Kid(Some(cmd.spawn().expect("spawn a child")))
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = Region::unlink(&self.name);
    }
}

/// A child process, killed (SIGKILL) and reaped on drop.
struct Kid(Option<Child>);

impl Kid {
    fn pid(&self) -> u32 {
        self.0.as_ref().expect("alive").id()
    }

    /// SIGKILL, then reap: the process is gone when this returns.
    fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for a normal exit; panics unless it succeeded.
    fn join(&mut self) {
        let mut c = self.0.take().expect("not yet joined");
        let deadline = Instant::now() + common::PROMPT;
        loop {
            if let Some(st) = c.try_wait().expect("wait for the child") {
                assert!(st.success(), "child failed: {st}");
                return;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("child did not finish");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        self.kill();
    }
}

/// SIGSTOP, and wait until the kernel shows the process stopped (the
/// signal is asynchronous: a process running on another CPU runs on a
/// little after `kill` returns).
fn stop(pid: u32) {
    let p = rustix::process::Pid::from_raw(pid as i32).expect("a pid");
    rustix::process::kill_process(p, rustix::process::Signal::STOP).expect("SIGSTOP");
    common::wait_for("the process is stopped", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('T'))
            })
            .unwrap_or(false)
    });
}

/// Voluntary context switches of all of `pid`'s threads.
fn switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .sum()
}

/// Whether every thread of `pid` is asleep.
fn asleep(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('S'))
            })
            .unwrap_or(false)
    })
}

/// SIGCONT: a stopped process runs on.
fn cont(pid: u32) {
    let p = rustix::process::Pid::from_raw(pid as i32).expect("a pid");
    rustix::process::kill_process(p, rustix::process::Signal::CONT).expect("SIGCONT");
}

/// Whether a thread of `pid` is inside a `pysync::process` wait: the
/// system call it is in (`/proc/<pid>/task/<tid>/syscall`: its number, then
/// its arguments) is a futex `FUTEX_WAIT` on a *shared* word (op 0, no
/// private flag). The test binary's other futex waits (libtest, std's
/// channels, the watchdog) are private. Also true of a thread stopped by
/// SIGSTOP inside that wait: the file still names the interrupted call.
fn in_process_wait(pid: u32) -> bool {
    const FUTEX: &str = if cfg!(target_arch = "x86_64") {
        "202"
    } else if cfg!(target_arch = "aarch64") {
        "98"
    } else {
        "240"
    };
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("syscall"))
            .map(|s| {
                let f: Vec<&str> = s.split_whitespace().collect();
                f.len() > 2 && f[0] == FUTEX && f[2] == "0x0"
            })
            .unwrap_or(false)
    })
}

/// Stops `pid` (SIGSTOP) while it sleeps inside a `pysync::process` wait,
/// not in the few microseconds of a slice's liveness check, which run
/// under the primitive's inner lock: a process stopped there would block
/// the test's own calls on that lock. Retries (SIGCONT) until the stop
/// lands in the wait; the kernel says where it stopped.
fn stop_in_process_wait(pid: u32) {
    let start = Instant::now();
    loop {
        common::wait_for("the process sleeps in its wait", || {
            asleep(pid) && in_process_wait(pid)
        });
        stop(pid);
        if in_process_wait(pid) {
            return;
        }
        assert!(
            start.elapsed() < common::PROMPT,
            "never stopped inside the wait"
        );
        cont(pid);
    }
}

// ---------------------------------------------------------------------------
// The child side
// ---------------------------------------------------------------------------

/// Not a test of its own: the entry point of every child (see module docs).
#[test]
fn child_role() {
    // In a child: aborts a child that nobody killed (a parent that died).
    let _watchdog = common::watchdog();
    let Ok(role) = std::env::var("PYSYNC_ROLE") else {
        return;
    };
    let region = Region::open(&std::env::var("PYSYNC_REGION").unwrap()).expect("open");
    let env_num = |k: &str| -> u64 { std::env::var(k).unwrap().parse().unwrap() };
    match role.as_str() {
        // Adds 1, M times, to the shared counter under the lock.
        "increment" => {
            let lock = region.lock("lock").unwrap();
            let counter = region.data("counter", 8).unwrap();
            let p = counter.as_ptr().cast::<u64>();
            for _ in 0..env_num("M") {
                let _g = lock.lock();
                // SAFETY: only touched under `lock`.
                unsafe { p.write_volatile(p.read_volatile() + 1) };
            }
        }
        // Takes the lock and keeps it, incrementing, until killed.
        "hold_lock" => {
            let lock = region.lock("lock").unwrap();
            let counter = region.data("junk", 8).unwrap();
            let p = counter.as_ptr().cast::<u64>();
            lock.acquire();
            region.event("holding").unwrap().set();
            loop {
                // SAFETY: under `lock`, which this process never releases.
                unsafe { p.write_volatile(p.read_volatile().wrapping_add(1)) };
                std::hint::spin_loop();
            }
        }
        "hold_rlock" => {
            let rl = region.rlock("rlock").unwrap();
            rl.acquire();
            rl.acquire();
            region.event("holding").unwrap().set();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // Takes permits through guards and keeps them until killed.
        "hold_permits" => {
            let s = region.semaphore("sem", 2).unwrap();
            let _a = s.access();
            let _b = s.access();
            region.event("holding").unwrap().set();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // Waits for a permit of `s` (0 permits): queued, and killed there.
        "sem_waiter" => {
            let s = region.semaphore("s", 0).unwrap();
            region.event("waiting").unwrap().set();
            s.acquire();
            region.event("acquired").unwrap().set();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // The last party of a 3-party barrier, killed inside its action.
        "barrier_last_in_action" => {
            let in_action = region.event("in_action").unwrap();
            let b = region.barrier("barrier", 3).unwrap().with_action(move || {
                in_action.set();
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
            let _ = b.wait();
            region.event("returned").unwrap().set();
        }
        // Arrives at the barrier (and is killed there).
        "barrier_party" => {
            let b = region.barrier("barrier", 3).unwrap();
            let _ = b.wait();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // Notifies every waiter, then dies holding the condition's lock.
        "notify_and_die" => {
            let c = region.condition("cond").unwrap();
            c.acquire();
            c.notify_all().unwrap();
            region.event("holding").unwrap().set();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // Waits on the condition; records whether it was notified.
        "cond_waiter" => {
            let c = region.condition("cond").unwrap();
            let _g = c.lock();
            let notified = c.wait_timeout(common::PROMPT).unwrap();
            if notified {
                region
                    .event(&std::env::var("SIGNAL").unwrap())
                    .unwrap()
                    .set();
            }
        }
        // Producer / consumer through a bounded buffer.
        "produce" => {
            let q = Queue::open(&region);
            let (from, n) = (env_num("FROM"), env_num("N"));
            for item in from..from + n {
                q.put(item);
            }
        }
        "consume" => {
            let q = Queue::open(&region);
            let seen = region.data("seen", 8 * ITEMS as usize).unwrap();
            let seen = seen.as_ptr().cast::<u64>();
            loop {
                let item = q.get();
                if item == u64::MAX {
                    break;
                }
                // SAFETY: `seen` holds ITEMS u64s; used only as atomics.
                let slot =
                    unsafe { std::sync::atomic::AtomicU64::from_ptr(seen.add(item as usize)) };
                slot.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        other => panic!("unknown role {other}"),
    }
}

/// A bounded buffer of u64 across processes: a `Lock` over a ring in a
/// `Data` block, and two semaphores counting free and full slots.
struct Queue {
    lock: pysync::process::Lock,
    free: pysync::process::Semaphore,
    full: pysync::process::Semaphore,
    ring: pysync::process::Data,
}

const SLOTS: u64 = 8;
const ITEMS: u64 = 2_000;

impl Queue {
    fn open(r: &Region) -> Queue {
        Queue {
            lock: r.lock("qlock").unwrap(),
            free: r.semaphore("qfree", SLOTS as usize).unwrap(),
            full: r.semaphore("qfull", 0).unwrap(),
            ring: r.data("qring", 8 * (SLOTS as usize + 2)).unwrap(),
        }
    }

    fn cell(&self, i: u64) -> *mut u64 {
        // SAFETY (of the callers' accesses): SLOTS + 2 u64s, touched only
        // under `lock`. Index SLOTS: head, SLOTS + 1: tail.
        self.ring.as_ptr().cast::<u64>().wrapping_add(i as usize)
    }

    fn put(&self, item: u64) {
        self.free.acquire();
        {
            let _g = self.lock.lock();
            // SAFETY: see `cell`.
            unsafe {
                let tail = self.cell(SLOTS + 1);
                let t = tail.read_volatile();
                self.cell(t % SLOTS).write_volatile(item);
                tail.write_volatile(t + 1);
            }
        }
        self.full.release();
    }

    fn get(&self) -> u64 {
        self.full.acquire();
        let item = {
            let _g = self.lock.lock();
            // SAFETY: see `cell`.
            unsafe {
                let head = self.cell(SLOTS);
                let h = head.read_volatile();
                head.write_volatile(h + 1);
                self.cell(h % SLOTS).read_volatile()
            }
        };
        self.free.release();
        item
    }
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[test]
fn n_processes_m_increments_under_a_process_lock() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("count");
    let counter = sh.region.data("counter", 8).unwrap();
    let (n, m) = (4, 5_000u64);
    let mut kids: Vec<Kid> = (0..n)
        .map(|_| sh.spawn_with("increment", &[("M", m.to_string())]))
        .collect();
    for k in &mut kids {
        k.join();
    }
    // SAFETY: every writer has exited.
    let total = unsafe { counter.as_ptr().cast::<u64>().read_volatile() };
    assert_eq!(total, n * m, "N processes x M increments");
}

/// A holder killed mid-section: the next acquirer (blocked without a
/// timeout) gets the lock with `owner_died`, within `BOUND` of the death.
/// On a loaded machine one trial can miss the bound through scheduling
/// alone: the best of three trials must meet it; every trial must recover.
#[test]
fn killed_lock_holder_is_recovered_within_the_bound() {
    let _watchdog = common::watchdog();
    let mut best = Duration::MAX;
    for trial in 0..3 {
        let sh = Shared::new(&format!("lock{trial}"));
        let lock = sh.region.lock("lock").unwrap();
        let holding = sh.region.event("holding").unwrap();
        let mut kid = sh.spawn("hold_lock");
        assert!(
            holding.wait_timeout(common::PROMPT),
            "the child took the lock"
        );
        assert!(!lock.try_acquire());
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            tx.send(common::current_tid()).unwrap();
            lock.acquire(); // no timeout at all
            (Instant::now(), lock.owner_died(), lock)
        });
        common::wait_until_parked(&rx.recv().unwrap());
        kid.kill();
        let dead_at = Instant::now();
        let (got_at, died, lock) = waiter.join().unwrap();
        assert!(died, "the acquirer is told the owner died");
        let latency = got_at.saturating_duration_since(dead_at);
        eprintln!("trial {trial}: recovered {latency:?} after the holder was reaped");
        best = best.min(latency);
        lock.release().unwrap();
        assert!(!lock.owner_died(), "the release clears owner_died");
        assert!(lock.try_acquire());
    }
    assert!(
        best <= BOUND,
        "best recovery {best:?} exceeds the promised {BOUND:?}"
    );
}

/// A process counts as alive only while it is not a zombie (`process`
/// docs): a holder killed but not yet reaped — here by this very process,
/// its parent, which is blocked in `acquire` and so cannot reap it — is
/// dead, and the waiter recovers the lock.
#[test]
fn killed_holder_not_yet_reaped_is_dead() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("zombie");
    let lock = sh.region.lock("lock").unwrap();
    let mut kid = sh.spawn("hold_lock");
    assert!(
        sh.region
            .event("holding")
            .unwrap()
            .wait_timeout(common::PROMPT),
        "the child took the lock"
    );
    let (waiter, tid) = common::spawn_static_tid({
        let lock = sh.region.lock("lock").unwrap();
        move || {
            lock.acquire(); // no timeout
            let died = lock.owner_died();
            lock.release().unwrap();
            died
        }
    });
    common::wait_until_parked(&tid);
    let pid = kid.pid();
    // SIGKILL without reaping: the child becomes a zombie.
    kid.0.as_mut().unwrap().kill().unwrap();
    common::wait_for("the child is a zombie", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim().starts_with('Z'))
        })
    });
    assert!(waiter.join().unwrap(), "the waiter is told the owner died");
    assert!(lock.try_acquire());
    lock.release().unwrap();
    kid.kill(); // reaps it
}

#[test]
fn killed_rlock_owner_is_recovered() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("rlock");
    let rl = sh.region.rlock("rlock").unwrap();
    let holding = sh.region.event("holding").unwrap();
    let mut kid = sh.spawn("hold_rlock");
    assert!(holding.wait_timeout(common::PROMPT));
    assert!(
        !rl.acquire_timeout(Duration::from_millis(50)),
        "held at depth 2"
    );
    kid.kill();
    assert!(rl.acquire_timeout(common::PROMPT));
    assert!(rl.owner_died());
    assert_eq!(rl.recursion_count(), 1);
    rl.release().unwrap();
    assert!(!rl.locked());
}

#[test]
fn killed_process_returns_its_guarded_permits() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("sem");
    let s = sh.region.semaphore("sem", 2).unwrap();
    let holding = sh.region.event("holding").unwrap();
    let mut kid = sh.spawn("hold_permits");
    assert!(holding.wait_timeout(common::PROMPT));
    assert_eq!(s.available(), 0);
    std::thread::scope(|sc| {
        let t = common::spawn_parked(sc, || s.acquire_timeout(common::PROMPT));
        kid.kill();
        assert!(
            t.join().unwrap(),
            "a blocked acquirer got a returned permit"
        );
    });
    // The other permit came back too.
    assert_eq!(s.available(), 1);
    s.release();
    assert_eq!(s.available(), 2, "no permit lost or created");
}

#[test]
fn killed_barrier_party_breaks_the_round() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("barrier");
    let b = sh.region.barrier("barrier", 3).unwrap();
    let mut kid = sh.spawn("barrier_party");
    common::wait_for("the child waits at the barrier", || b.n_waiting() == 1);
    std::thread::scope(|sc| {
        let t = sc.spawn(|| b.wait()); // no timeout
        common::wait_for("two parties wait", || b.n_waiting() == 2);
        kid.kill();
        assert_eq!(t.join().unwrap(), Err(pysync::Error::BrokenBarrier));
    });
    assert!(b.broken());
    b.reset();
    assert!(!b.broken());
}

#[test]
fn notified_condition_waiter_killed_does_not_swallow_the_notify() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("cond");
    let c = sh.region.condition("cond").unwrap();
    let got_a = sh.region.event("a").unwrap();
    let got_b = sh.region.event("b").unwrap();
    let mut a = sh.spawn_with("cond_waiter", &[("SIGNAL", "a".into())]);
    common::wait_for("A waits", || c.waiters() == 1);
    let mut b = sh.spawn_with("cond_waiter", &[("SIGNAL", "b".into())]);
    common::wait_for("B waits", || c.waiters() == 2);
    // A is first in line: freeze it, notify one (that is A), kill A before
    // it could take the notification.
    stop(a.pid());
    {
        let _g = c.lock();
        c.notify(1).unwrap();
    }
    a.kill();
    assert!(
        got_b.wait_timeout(common::PROMPT),
        "the notification passed on to B"
    );
    b.join();
    assert!(!got_a.is_set());
}

/// A notified waiter killed before it got the lock back (it may still be
/// asleep on its cell, or already woken and blocked on the lock the
/// notifier holds): either way the notification passes on to B.
#[test]
fn notified_waiter_killed_while_reacquiring_the_lock_passes_it_on() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("cond2");
    let c = sh.region.condition("cond").unwrap();
    let got_b = sh.region.event("b").unwrap();
    let mut a = sh.spawn_with("cond_waiter", &[("SIGNAL", "a".into())]);
    common::wait_for("A waits", || c.waiters() == 1);
    let mut b = sh.spawn_with("cond_waiter", &[("SIGNAL", "b".into())]);
    common::wait_for("B waits", || c.waiters() == 2);
    {
        let _g = c.lock();
        let before = switches(a.pid());
        c.notify(1).unwrap(); // A, the longest waiter
        // A wakes, sees its notification, and blocks on the lock we hold:
        // it has slept again (one more voluntary switch) and is asleep.
        common::wait_for("A woke and blocked on the lock", || {
            switches(a.pid()) > before && asleep(a.pid())
        });
        a.kill(); // inside `wait`, notified, without the lock back
    }
    assert!(
        got_b.wait_timeout(common::PROMPT),
        "the notification passed on to B"
    );
    b.join();
    assert!(!sh.region.event("a").unwrap().is_set());
}

/// The lock of a Condition: a notifier killed while holding it. The
/// notified waiter gets the lock back (recovered, `owner_died`) and returns
/// notified.
#[test]
fn notifier_killed_holding_the_condition_lock() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("cond3");
    let c = sh.region.condition("cond").unwrap();
    let holding = sh.region.event("holding").unwrap();
    std::thread::scope(|s| {
        let w = s.spawn(|| {
            let _g = c.lock();
            let r = c.wait_timeout(common::PROMPT);
            (r, c.lock_ref().owner_died())
        });
        common::wait_for("the waiter waits", || c.waiters() == 1);
        let mut kid = sh.spawn("notify_and_die");
        assert!(holding.wait_timeout(common::PROMPT));
        kid.kill();
        assert_eq!(w.join().unwrap(), (Ok(true), true));
    });
    assert!(!c.lock_ref().locked());
}

#[test]
fn producer_consumer_across_processes_delivers_every_item_once() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("pc");
    let q = Queue::open(&sh.region);
    let seen = sh.region.data("seen", 8 * ITEMS as usize).unwrap();
    let half = ITEMS / 2;
    let mut producers = vec![
        sh.spawn_with("produce", &[("FROM", "0".into()), ("N", half.to_string())]),
        sh.spawn_with(
            "produce",
            &[("FROM", half.to_string()), ("N", half.to_string())],
        ),
    ];
    let mut consumers = vec![sh.spawn("consume"), sh.spawn("consume")];
    for p in &mut producers {
        p.join();
    }
    for _ in 0..consumers.len() {
        q.put(u64::MAX); // one end marker per consumer
    }
    for c in &mut consumers {
        c.join();
    }
    let seen = seen.as_ptr().cast::<u64>();
    for item in 0..ITEMS {
        // SAFETY: every writer has exited.
        let n = unsafe { seen.add(item as usize).read_volatile() };
        assert_eq!(n, 1, "item {item} delivered {n} times");
    }
}

#[test]
fn a_killed_incrementer_loses_nothing_else() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("killinc");
    let lock = sh.region.lock("lock").unwrap();
    let counter = sh.region.data("counter", 8).unwrap();
    let p = counter.as_ptr().cast::<u64>();
    let holding = sh.region.event("holding").unwrap();
    // One child holds the lock and is killed mid-section (writing its own
    // data); workers blocked behind it recover the lock and finish, and
    // every one of their increments is there.
    let mut holder = sh.spawn("hold_lock");
    assert!(holding.wait_timeout(common::PROMPT));
    let m = 2_000u64;
    let mut workers: Vec<Kid> = (0..2)
        .map(|_| sh.spawn_with("increment", &[("M", m.to_string())]))
        .collect();
    holder.kill();
    for w in &mut workers {
        w.join();
    }
    // SAFETY: every writer has exited.
    let total = unsafe { p.read_volatile() };
    assert_eq!(total, 2 * m);
    assert!(!lock.locked());
}

#[test]
fn children_attach_through_an_inherited_fd() {
    let _watchdog = common::watchdog();
    use std::os::fd::AsRawFd;
    let region = Region::anonymous(1 << 20).unwrap();
    let fd = region.inheritable_fd().unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "inherited_fd_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("PYSYNC_FD", fd.as_raw_fd().to_string())
    .stdin(Stdio::null())
    .stdout(Stdio::null());
    let mut kid = Kid(Some(cmd.spawn().unwrap()));
    drop(fd);
    kid.join();
    assert!(region.event("child was here").unwrap().is_set());
}

/// Not a test of its own: the child of `children_attach_through_an_inherited_fd`.
#[test]
fn inherited_fd_child() {
    let _watchdog = common::watchdog();
    use std::os::fd::{FromRawFd, OwnedFd};
    let Ok(fd) = std::env::var("PYSYNC_FD") else {
        return;
    };
    // SAFETY: the parent passed us this fd number, inherited, unused here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd.parse().unwrap()) };
    let region = Region::from_fd(fd).expect("attach through the fd");
    region.event("child was here").unwrap().set();
}

// ----- a process killed while waiting on a Semaphore ------------------------

/// Starts a `sem_waiter` child on `s` (0 permits) and waits until it sleeps
/// queued in its `acquire`.
fn queued_sem_waiter(sh: &Shared) -> Kid {
    let kid = sh.spawn("sem_waiter");
    assert!(
        sh.region
            .event("waiting")
            .unwrap()
            .wait_timeout(common::PROMPT),
        "the child started"
    );
    common::wait_for("the child sleeps queued in its acquire", || {
        asleep(kid.pid()) && in_process_wait(kid.pid())
    });
    kid
}

/// A process killed (and reaped) while queued on a Semaphore: its place is
/// freed. A later local waiter gets the next released permit, whether the
/// release finds the dead cell still queued (the permit goes to it, and the
/// waiter's slice check passes it on) or already freed by that check.
#[test]
fn killed_queued_semaphore_waiter_frees_its_place() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("semq");
    let s = sh.region.semaphore("s", 0).unwrap();
    let mut kid = queued_sem_waiter(&sh);
    kid.kill();
    std::thread::scope(|sc| {
        let t = common::spawn_parked(sc, || s.acquire_timeout(common::PROMPT));
        s.release();
        assert!(
            t.join().unwrap(),
            "the local waiter got the permit, not the dead one's place"
        );
    });
    assert_eq!(s.available(), 0, "one permit, taken once");
    assert!(!sh.region.event("acquired").unwrap().is_set());
    // Nobody is queued any more: a released permit is there to take.
    s.release();
    assert!(s.try_acquire(), "no dead cell left queued");
    assert_eq!(s.available(), 0);
}

/// Queues a `sem_waiter` child, stops it inside its wait, releases one
/// permit (granted to the child's cell: it is the only waiter, and stopped
/// it cannot pick it up), then kills and reaps it.
fn permit_granted_to_a_killed_waiter(sh: &Shared, s: &pysync::process::Semaphore) {
    let mut kid = queued_sem_waiter(sh);
    stop_in_process_wait(kid.pid());
    s.release();
    assert_eq!(s.available(), 0, "the permit went to the child's cell");
    kid.kill();
    assert!(!sh.region.event("acquired").unwrap().is_set());
}

/// A permit granted to a queued process that dies before picking it up
/// (stopped, then killed) is not lost: a blocked acquirer gets it.
#[test]
fn permit_granted_to_a_killed_waiter_goes_to_the_next_acquirer() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("semg");
    let s = sh.region.semaphore("s", 0).unwrap();
    permit_granted_to_a_killed_waiter(&sh, &s);
    // It may find the dead cell before it sleeps, or at a slice's check:
    // either way it gets the permit.
    assert!(
        s.acquire_timeout(common::PROMPT),
        "the granted permit came back"
    );
    assert_eq!(s.available(), 0);
    s.release();
    assert_eq!(s.available(), 1, "no permit lost or created");
}

/// The same, with nobody waiting: `reclaim` returns it to the count.
#[test]
fn permit_granted_to_a_killed_waiter_is_reclaimed_to_the_count() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("semr");
    let s = sh.region.semaphore("s", 0).unwrap();
    permit_granted_to_a_killed_waiter(&sh, &s);
    s.reclaim();
    assert_eq!(s.available(), 1, "the granted permit came back");
    assert!(s.try_acquire());
    s.reclaim();
    assert_eq!(s.available(), 0, "returned once only");
}

/// `reclaim` with nobody waiting frees a dead waiter's cell: the next
/// release goes to the count (the fast path: nobody queued), not to the
/// dead cell.
#[test]
fn reclaim_frees_a_dead_waiters_place() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("semf");
    let s = sh.region.semaphore("s", 0).unwrap();
    let mut kid = queued_sem_waiter(&sh);
    kid.kill();
    s.reclaim();
    s.release();
    assert_eq!(s.available(), 1, "the release found nobody queued");
    assert!(s.try_acquire());
}

/// `reclaim` returns a dead holder's guarded permits at once, with nobody
/// waiting; until then nothing notices the death (`try_acquire` never
/// checks).
#[test]
fn reclaim_returns_a_dead_holders_permits_with_nobody_waiting() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("semh");
    let s = sh.region.semaphore("sem", 2).unwrap();
    let holding = sh.region.event("holding").unwrap();
    let mut kid = sh.spawn("hold_permits");
    assert!(holding.wait_timeout(common::PROMPT));
    kid.kill();
    assert_eq!(s.available(), 0);
    assert!(!s.try_acquire(), "try_acquire does not reclaim");
    s.reclaim();
    assert_eq!(s.available(), 2, "both guarded permits came back");
    s.reclaim();
    assert_eq!(s.available(), 2, "returned once only");
}

// ----- owner death and short or zero timeouts -------------------------------

/// The Semaphore's side of the same rule: `try_acquire` and a zero timeout
/// never reclaim a dead holder's guarded permits; a timed wait shorter
/// than a slice does, at its deadline, whether it slept until then or its
/// deadline passed before it could (1 µs).
#[test]
fn a_short_timed_semaphore_wait_reclaims_a_dead_holders_permits() {
    let _watchdog = common::watchdog();
    for short in [Duration::from_micros(1), pysync::process::SLICE / 2] {
        let sh = Shared::new("semshort");
        let s = sh.region.semaphore("sem", 2).unwrap();
        let holding = sh.region.event("holding").unwrap();
        let mut kid = sh.spawn("hold_permits");
        assert!(holding.wait_timeout(common::PROMPT));
        kid.kill();
        assert!(!s.try_acquire(), "try_acquire does not reclaim");
        assert!(
            !s.acquire_timeout(Duration::ZERO),
            "nor does a zero timeout"
        );
        assert!(s.acquire_timeout(short), "a {short:?} wait reclaimed");
        assert_eq!(s.available(), 1, "both came back, one taken");
        s.release();
        assert_eq!(s.available(), 2);
        drop(sh);
    }
}

/// `try_acquire` (and a zero timeout) never check for a dead holder; a
/// timed wait shorter than a slice checks once, at its deadline, and
/// recovers the lock.
#[test]
fn try_acquire_never_recovers_a_short_timed_wait_does() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("short");
    let lock = sh.region.lock("lock").unwrap();
    let holding = sh.region.event("holding").unwrap();
    let mut kid = sh.spawn("hold_lock");
    assert!(holding.wait_timeout(common::PROMPT));
    kid.kill();
    for _ in 0..3 {
        assert!(!lock.try_acquire(), "try_acquire never checks");
        assert!(
            !lock.acquire_timeout(Duration::ZERO),
            "nor does a zero timeout"
        );
    }
    assert!(
        lock.locked() && !lock.owner_died(),
        "still the dead holder's"
    );
    // A wait shorter than a slice checks at its deadline, whether it slept
    // until then or its deadline passed while it spun (1 µs: it never gets
    // to sleep; on a loaded machine neither may a longer one).
    for short in [Duration::from_micros(1), pysync::process::SLICE / 2] {
        assert!(
            lock.acquire_timeout(short),
            "a {short:?} wait recovered the dead holder's lock"
        );
        assert!(lock.owner_died());
        lock.release().unwrap();
        assert!(!lock.locked() && !lock.owner_died());
        // The next round: a dead holder again.
        holding.clear();
        let mut kid = sh.spawn("hold_lock");
        assert!(holding.wait_timeout(common::PROMPT));
        kid.kill();
    }
}

// ----- a Barrier whose last party dies in the action ------------------------

/// The last party of a round is killed while it runs the action: the
/// round's waiters, and a party arriving for the next round meanwhile, get
/// `Err(BrokenBarrier)`; nobody hangs.
#[test]
fn barrier_action_runner_killed_breaks_the_round() {
    let _watchdog = common::watchdog();
    let sh = Shared::new("bact");
    let b = sh.region.barrier("barrier", 3).unwrap();
    let in_action = sh.region.event("in_action").unwrap();
    // Unscoped threads reporting through a channel: if the round never
    // breaks, the test fails after PROMPT instead of hanging in a join.
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..2 {
        let (b, tx) = (b.clone(), tx.clone());
        std::thread::spawn(move || tx.send(b.wait()).unwrap());
    }
    common::wait_for("two local parties wait", || b.n_waiting() == 2);
    let mut kid = sh.spawn("barrier_last_in_action");
    assert!(
        in_action.wait_timeout(common::PROMPT),
        "the child arrived last and runs the action"
    );
    let (_late, tid) = common::spawn_static_tid({
        let (b, tx) = (b.clone(), tx.clone());
        move || tx.send(b.wait()).unwrap()
    });
    common::wait_until_parked(&tid); // waits for the action to end
    kid.kill();
    for party in 0..3 {
        let r = rx
            .recv_timeout(common::PROMPT)
            .unwrap_or_else(|_| panic!("party {party} hangs: the round did not break"));
        assert_eq!(r, Err(pysync::Error::BrokenBarrier));
    }
    assert!(b.broken());
    assert!(!sh.region.event("returned").unwrap().is_set());
    b.reset();
    assert!(!b.broken());
}
