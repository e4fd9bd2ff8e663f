//! Python's `queue.Queue` written with [`pysync::Condvar`]: one
//! `Mutex<State>` and three condition variables waiting with its guard
//! (`not_empty`, `not_full`, `all_tasks_done`), as CPython's `queue.py`
//! shares one lock among three `Condition`s. put/get with timeouts,
//! task_done/join. The queue itself is `tests/downstream/src/queue.rs`,
//! which the downstream crate (pysync used from outside, by path) tests.
//!
//! ```text
//! cargo run --release --example queue
//! ```
//!
//! The Python program it ports:
//!
//! ```python
//! q = queue.Queue(maxsize=8)
//! def worker():
//!     while True:
//!         try: item = q.get(timeout=0.2)
//!         except queue.Empty: return
//!         results.append(item * item); q.task_done()
//! for _ in range(4): threading.Thread(target=worker).start()
//! for i in range(100): q.put(i, timeout=5)
//! q.join()
//! ```

#[path = "../tests/downstream/src/queue.rs"]
#[allow(dead_code)] // the example uses a part of the port
mod queue;

use pysync::Mutex;
use queue::{Empty, Full, Queue};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

fn main() {
    let q = Arc::new(Queue::new(8));
    let results = Arc::new(Mutex::new(Vec::new()));

    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (q, results) = (Arc::clone(&q), Arc::clone(&results));
            thread::spawn(move || {
                loop {
                    match q.get(Some(Duration::from_millis(200))) {
                        Ok(item) => {
                            results.lock().push(item * item);
                            q.task_done().unwrap_or_else(|e| panic!("{e}"));
                        }
                        Err(Empty) => return, // idle for 200 ms: done
                    }
                }
            })
        })
        .collect();

    for i in 0..100u64 {
        if let Err(Full(item)) = q.put(i, Some(Duration::from_secs(5))) {
            panic!("queue stayed full for 5 s; dropped {item}");
        }
    }
    q.join(); // every item put has been processed
    println!("all 100 items processed; {} results", results.lock().len());

    for w in workers {
        w.join().unwrap();
    }
    let mut r = results.lock().clone();
    r.sort_unstable();
    assert_eq!(r, (0..100u64).map(|i| i * i).collect::<Vec<_>>());
    println!("sum of squares 0..100 = {}", r.iter().sum::<u64>());

    // Timeouts: an empty queue's get, a full queue's put.
    let small = Queue::new(1);
    assert_eq!(small.get(Some(Duration::from_millis(10))), Err(Empty));
    small
        .put_nowait("a")
        .unwrap_or_else(|_| unreachable!("empty queue"));
    assert_eq!(
        small.put("b", Some(Duration::from_millis(10))),
        Err(Full("b"))
    );
    println!("get on an empty queue and put on a full one time out: Empty, Full(\"b\")");
}
