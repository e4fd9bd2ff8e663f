//! Drives `pysync::process::Region` with bad input: region names and sizes,
//! object names, kinds and parameters, and arbitrary bytes written over a
//! live region (then re-attached): every call must return `Ok` or a clear
//! `Err`, never crash, hang or touch memory outside the mapping. Only
//! non-blocking operations run on objects of a corrupted region (a garbage
//! state may legitimately mean "held").
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pysync::process::{Region, RegionError};
use std::time::Duration;

#[derive(Arbitrary, Debug)]
enum Op {
    /// `Region::open` / `create` with an arbitrary name (create only under
    /// our own prefix, removed at once: nothing leaks into /dev/shm).
    Name {
        name: String,
        create: bool,
        size: u32,
    },
    /// A new anonymous region of an arbitrary size.
    Anonymous { size: u32 },
    /// Find or create an object.
    Object { kind: u8, name: String, param: u32 },
    /// Write bytes over the region, at an offset (wraps into the size).
    Corrupt { offset: u32, bytes: Vec<u8> },
    /// Attach again through the fd (checks the header).
    Reattach,
    /// A non-blocking operation on one of the objects.
    Use { index: u8, op: u8 },
}

enum Obj {
    Lock(pysync::process::Lock),
    RLock(pysync::process::RLock),
    Sem(pysync::process::Semaphore),
    BSem(pysync::process::BoundedSemaphore),
    Event(pysync::process::Event),
    Cond(pysync::process::Condition),
    Barrier(pysync::process::Barrier),
    Data(pysync::process::Data),
}

fn object(r: &Region, kind: u8, name: &str, p: u32) -> Result<Obj, RegionError> {
    Ok(match kind % 8 {
        0 => Obj::Lock(r.lock(name)?),
        1 => Obj::RLock(r.rlock(name)?),
        2 => Obj::Sem(r.semaphore(name, p as usize)?),
        3 => Obj::BSem(r.bounded_semaphore(name, p as usize)?),
        4 => Obj::Event(r.event(name)?),
        5 => Obj::Cond(r.condition(name)?),
        6 => Obj::Barrier(r.barrier(name, p as usize)?),
        _ => Obj::Data(r.data(name, p as usize)?),
    })
}

fn use_it(o: &Obj, op: u8) {
    let z = Duration::ZERO;
    match o {
        Obj::Lock(l) => match op % 3 {
            0 => drop(l.try_acquire()),
            1 => drop(l.release()),
            _ => drop(format!("{l:?}")),
        },
        Obj::RLock(l) => match op % 3 {
            0 => drop(l.try_acquire()),
            1 => drop(l.release()),
            _ => drop(format!("{l:?} {}", l.recursion_count())),
        },
        Obj::Sem(s) => match op % 4 {
            0 => drop(s.try_acquire()),
            1 => {
                if s.available() < 1000 {
                    s.release()
                }
            }
            2 => s.reclaim(),
            _ => drop(s.try_access()),
        },
        Obj::BSem(s) => match op % 3 {
            0 => drop(s.acquire_timeout(z)),
            1 => drop(s.release_n(op as usize)),
            _ => s.reclaim(),
        },
        Obj::Event(e) => match op % 3 {
            0 => e.set(),
            1 => e.clear(),
            _ => drop(e.wait_timeout(z)),
        },
        Obj::Cond(c) => {
            if c.try_acquire() {
                let _ = c.notify(op as usize);
                let _ = c.wait_timeout(z);
                let _ = c.release();
            }
            let _ = format!("{c:?}");
        }
        Obj::Barrier(b) => match op % 4 {
            0 => b.abort(),
            1 => b.reset(),
            2 => drop(format!("{b:?}")),
            // A one-party barrier (or a broken one) returns at once.
            _ => {
                if b.parties() == 1 || b.broken() {
                    let _ = b.wait_timeout(z);
                }
            }
        },
        Obj::Data(d) => drop(d.len()),
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let Ok(mut region) = Region::anonymous(1 << 16) else {
        return;
    };
    let mut objs: Vec<Obj> = Vec::new();
    // Objects of a region whose bytes were overwritten: non-blocking use only.
    for op in ops.into_iter().take(64) {
        match op {
            Op::Name { name, create, size } => {
                let _ = Region::open(&name);
                if create {
                    let ours = format!(
                        "/pysync-fuzz-{}-{}",
                        std::process::id(),
                        name.replace(['/', '\0'], "")
                    );
                    if let Ok(r) = Region::create(&ours, size as usize) {
                        let _ = Region::unlink(&ours);
                        drop(r);
                    } else {
                        let _ = Region::unlink(&ours);
                    }
                }
            }
            Op::Anonymous { size } => {
                if let Ok(r) = Region::anonymous(size as usize % (1 << 22)) {
                    region = r;
                    objs.clear();
                }
            }
            Op::Object { kind, name, param } => {
                if let Ok(o) = object(&region, kind, &name, param % 4096) {
                    objs.push(o);
                }
            }
            Op::Corrupt { offset, bytes } => {
                let fd = region.fd();
                let off = u64::from(offset) % region.size() as u64;
                let _ = rustix::io::pwrite(fd, &bytes, off);
            }
            Op::Reattach => {
                if let Ok(fd) = region.inheritable_fd() {
                    if let Ok(r) = Region::from_fd(fd) {
                        region = r;
                    }
                }
            }
            Op::Use { index, op } => {
                if !objs.is_empty() {
                    use_it(&objs[index as usize % objs.len()], op);
                }
            }
        }
    }
});
