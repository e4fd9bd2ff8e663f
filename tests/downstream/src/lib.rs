//! Python programs ported to pysync from its docs alone, as a downstream
//! crate would write them. No `unsafe`, no second mutex beside the data,
//! no `.expect("we hold the lock")`.
#![forbid(unsafe_code)]

pub mod counter;
pub mod phases;
pub mod pool;
pub mod queue;
pub mod shutdown;
