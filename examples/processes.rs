//! `cargo run --release --example processes`: the other side of
//! `gil_cpu_vs_io`.
//!
//! * CPU-bound work does not speed up with threads under a GIL, but it does
//!   with **processes**: N worker processes (this binary, spawned again)
//!   share a counter in a [`pysync::process::Region`] under a
//!   `process::Lock`, and finish in about 1/N of the time (up to the number
//!   of cores).
//! * And it **survives a worker being killed**: one worker is SIGKILLed
//!   while it holds the lock, half-way through an update. The next worker
//!   to want the lock gets it within the promised bound, is told the owner
//!   died (`owner_died`), repairs the half-done update, and everyone
//!   finishes. (Python's `multiprocessing.Lock` would stay taken forever:
//!   every other worker would hang.)

use pysync::process::{Data, Lock, Region};
use std::hint::black_box;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Units of work in total (split between the workers).
const UNITS: u64 = 400;

/// Shared state: `[counter, dirty]`, protected by the lock.
struct Shared {
    lock: Lock,
    data: Data,
}

impl Shared {
    fn open(region: &Region) -> Shared {
        Shared {
            lock: region.lock("lock").unwrap(),
            data: region.data("state", 16).unwrap(),
        }
    }
    fn word(&self, i: usize) -> *mut u64 {
        // SAFETY (of every dereference below): two u64s in the region,
        // only touched while `lock` is held.
        self.data.as_ptr().cast::<u64>().wrapping_add(i)
    }
    /// One unit: some CPU work, then an update under the lock.
    fn unit(&self) {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        black_box(x);
        let _g = self.lock.lock();
        if self.lock.owner_died() {
            // The previous holder died mid-update: repair.
            // SAFETY: under the lock.
            unsafe {
                if *self.word(1) != 0 {
                    *self.word(1) = 0;
                    eprintln!(
                        "  worker {}: took the lock over from a killed worker; repaired its half-done update",
                        std::process::id()
                    );
                }
            }
        }
        // SAFETY: under the lock.
        unsafe { *self.word(0) += 1 };
    }
}

fn worker(region_name: &str, role: &str) {
    let region = Region::open(region_name).unwrap();
    let shared = Shared::open(&region);
    if role == "victim" {
        // Hold the lock, start an update, and never finish it.
        let _g = shared.lock.lock();
        // SAFETY: under the lock.
        unsafe { *shared.word(1) = 1 };
        region.event("victim holds the lock").unwrap().set();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let units: u64 = role.parse().unwrap();
    for _ in 0..units {
        shared.unit();
    }
}

fn spawn(region_name: &str, role: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .env("PYSYNC_WORKER", format!("{region_name} {role}"))
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn a worker process")
}

fn counter(region: &Region) -> u64 {
    let shared = Shared::open(region);
    let _g = shared.lock.lock();
    // SAFETY: under the lock.
    unsafe { *shared.word(0) }
}

fn run(workers: u64) -> Duration {
    let name = format!("/pysync-example-{}-{workers}", std::process::id());
    let _ = Region::unlink(&name);
    let region = Region::create(&name, 1 << 20).unwrap();
    let start = Instant::now();
    let mut kids: Vec<_> = (0..workers)
        .map(|_| spawn(&name, &(UNITS / workers).to_string()))
        .collect();
    for k in &mut kids {
        assert!(k.wait().unwrap().success());
    }
    let took = start.elapsed();
    assert_eq!(
        counter(&region),
        UNITS / workers * workers,
        "no update lost"
    );
    Region::unlink(&name).unwrap();
    took
}

fn main() {
    if let Ok(args) = std::env::var("PYSYNC_WORKER") {
        let (name, role) = args.split_once(' ').unwrap();
        worker(name, role);
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "CPU-bound work, {UNITS} units, shared counter under a process::Lock ({cores} cores):\n"
    );
    println!("| worker processes | time | speed-up |");
    println!("|---|---|---|");
    let one = run(1);
    println!("| 1 | {one:.2?} | 1.00x |");
    for n in [2u64, 4] {
        let t = run(n);
        println!(
            "| {n} | {t:.2?} | {:.2}x |",
            one.as_secs_f64() / t.as_secs_f64()
        );
    }

    println!("\nA worker killed (SIGKILL) while it holds the lock:");
    let name = format!("/pysync-example-{}-kill", std::process::id());
    let _ = Region::unlink(&name);
    let region = Region::create(&name, 1 << 20).unwrap();
    let mut victim = spawn(&name, "victim");
    assert!(
        region
            .event("victim holds the lock")
            .unwrap()
            .wait_timeout(Duration::from_secs(30)),
        "the victim never took the lock"
    );
    let survivors = 2u64;
    let per = UNITS / 4;
    let mut kids: Vec<_> = (0..survivors)
        .map(|_| spawn(&name, &per.to_string()))
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    victim.kill().unwrap(); // SIGKILL, mid-update, lock held
    victim.wait().unwrap();
    let killed = Instant::now();
    for k in &mut kids {
        assert!(k.wait().unwrap().success());
    }
    let total = counter(&region);
    println!(
        "  survivors finished {:.2?} after the kill; counter = {total} (expected {}): nothing lost, nobody hung",
        killed.elapsed(),
        survivors * per
    );
    assert_eq!(total, survivors * per);
    Region::unlink(&name).unwrap();
}
