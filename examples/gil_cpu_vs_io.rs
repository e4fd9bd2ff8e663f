//! `cargo run --release --example gil_cpu_vs_io`: the GIL's classic lesson.
//!
//! * N CPU-bound threads under one `Gil` take about N× as long as one: the
//!   GIL runs one of them at a time (no speed-up from threads).
//! * N threads doing blocking I/O inside `allow_threads` overlap: they finish
//!   in about the time of one, because the GIL is released while they wait.
//!
//! Runs in a few seconds and prints a table.

use pysync::Gil;
use std::hint::black_box;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

/// A fixed amount of "bytecode", polling `check` as an interpreter would.
fn cpu_job(gil: &Gil) {
    let guard = gil.acquire();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..3_000_000 {
        for _ in 0..32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        guard.check();
    }
    black_box(x);
}

/// Ten blocking "requests", each a 20 ms wait on a socket that a device
/// thread answers late, done with the GIL released.
fn io_job(gil: &Gil) {
    let (mut ours, mut device) = UnixStream::pair().unwrap();
    let dev = thread::spawn(move || {
        let mut b = [0u8];
        while device.read_exact(&mut b).is_ok() {
            thread::sleep(Duration::from_millis(20)); // the device is slow
            if device.write_all(&b).is_err() {
                break;
            }
        }
    });
    let mut guard = gil.acquire();
    for i in 0..10u8 {
        let got = guard.allow_threads(|| {
            ours.write_all(&[i]).unwrap();
            let mut b = [0u8];
            ours.read_exact(&mut b).unwrap();
            b[0]
        });
        assert_eq!(got, i);
        guard.check();
    }
    drop(guard);
    drop(ours);
    dev.join().unwrap();
}

fn timed(n: usize, job: fn(&Gil)) -> Duration {
    let gil = Gil::new();
    let start = Instant::now();
    thread::scope(|s| {
        for _ in 0..n {
            s.spawn(|| job(&gil));
        }
    });
    start.elapsed()
}

fn main() {
    println!(
        "| threads | CPU-bound: time | vs 1 thread | blocking I/O in allow_threads: time | vs 1 thread |"
    );
    println!("|---|---|---|---|---|");
    let (cpu1, io1) = (timed(1, cpu_job), timed(1, io_job));
    for n in [1usize, 2, 4] {
        let (cpu, io) = if n == 1 {
            (cpu1, io1)
        } else {
            (timed(n, cpu_job), timed(n, io_job))
        };
        println!(
            "| {n} | {:.0} ms | {:.2}× | {:.0} ms | {:.2}× |",
            cpu.as_secs_f64() * 1e3,
            cpu.as_secs_f64() / cpu1.as_secs_f64(),
            io.as_secs_f64() * 1e3,
            io.as_secs_f64() / io1.as_secs_f64()
        );
    }
    println!();
    println!("CPU-bound threads serialise on the GIL (≈ N×); I/O threads overlap (≈ 1×).");
}
