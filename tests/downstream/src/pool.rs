//! A connection pool: a `BoundedSemaphore` limits how many connections are
//! out, and each checked-out connection carries an owned permit, so it can
//! move into a worker thread and gives its slot back when dropped.
//!
//! ```python
//! slots = threading.BoundedSemaphore(n)
//! with slots:
//!     conn = pool.pop(); ...; pool.append(conn)
//! ```

use pysync::{ArcSemaphoreGuard, BoundedSemaphore, Mutex};
use std::sync::Arc;
use std::time::Duration;

/// A (pretend) database connection.
#[derive(Debug)]
pub struct Connection {
    pub id: usize,
    pub queries: usize,
}

/// The pool: idle connections, and the permits that bound how many are out.
pub struct Pool {
    slots: Arc<BoundedSemaphore>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

/// A checked-out connection: owns its permit and returns both on drop.
pub struct Lease {
    conn: Option<Connection>,
    idle: Arc<Mutex<Vec<Connection>>>,
    // Dropped after the connection is back in `idle` (fields drop in order
    // after `Drop::drop`), so a waiter woken by the permit finds it there.
    _permit: ArcSemaphoreGuard,
}

impl Pool {
    pub fn new(size: usize) -> Self {
        let conns = (0..size).map(|id| Connection { id, queries: 0 }).collect();
        Pool {
            slots: Arc::new(BoundedSemaphore::new(size)),
            idle: Arc::new(Mutex::new(conns)),
        }
    }

    /// Checks a connection out, waiting at most `timeout` for one.
    pub fn get(&self, timeout: Duration) -> Option<Lease> {
        let permit = self.slots.access_arc_timeout(timeout)?;
        // A permit guarantees an idle connection.
        let conn = self.idle.lock().pop()?;
        Some(Lease {
            conn: Some(conn),
            idle: Arc::clone(&self.idle),
            _permit: permit,
        })
    }

    pub fn available(&self) -> usize {
        self.slots.available()
    }

    /// Every connection, once all are back: (id, queries).
    pub fn stats(&self) -> Vec<(usize, usize)> {
        let mut v: Vec<_> = self.idle.lock().iter().map(|c| (c.id, c.queries)).collect();
        v.sort();
        v
    }
}

impl Lease {
    pub fn query(&mut self) -> usize {
        match &mut self.conn {
            Some(c) => {
                c.queries += 1;
                c.id
            }
            None => usize::MAX, // unreachable: taken only in Drop
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.idle.lock().push(conn);
        }
    }
}
