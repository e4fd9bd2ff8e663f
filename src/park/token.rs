//! The park/unpark token vocabulary, shared by every primitive.
//!
//! **Unpark tokens** tell a woken thread why it was woken. There are three,
//! with one meaning each, whatever the primitive:
//!
//! | token | meaning | Lock, RLock | Semaphore | Event | Condition | Barrier | Gil |
//! |---|---|---|---|---|---|---|---|
//! | [`RETRY`] | woken to look again: nothing was handed over | free, retry | — | — | moved or woken; take the lock | an arrival: look again | retry |
//! | [`HANDOFF`] | what you waited for was handed to you: do not look again | the lock stayed held for you | a permit is yours | the `set` reached you | (the lock's hand-off) | your round completed | the GIL is yours |
//! | [`BROKEN`] | what you waited in was broken | — | — | — | — | your round broke: `Err` | — |
//!
//! A waiter that gets [`HANDOFF`] or [`BROKEN`] returns without touching
//! the primitive again: the waker decided under the queue lock, which is
//! what lets the primitive be freed as soon as the last call returns (the
//! crate docs' destruction promise) and lets a barrier start its next round
//! at once.
//!
//! **Park tokens** tell a waker who waits. Where they carry data, the
//! primitive defines their type next to its state machine:
//! * `park::fair::Deadline::token`: when a lock waiter is owed a hand-off
//!   (Lock, RLock, a Condition's waiters on their lock);
//! * `barrier::raw::PartyToken`: a barrier waiter's round and kind (party
//!   of a round, or arrival waiting for a round to end);
//! * everyone else parks with [`DEFAULT`] (a semaphore's and an event's
//!   queue is FIFO and needs nothing more).

use super::{ParkToken, UnparkToken};

/// Woken to look again: nothing was handed over.
pub(crate) const RETRY: UnparkToken = UnparkToken(0);

/// What the thread waited for was handed to it (a lock that stayed held for
/// it, a permit, an event's `set`, a completed barrier round).
pub(crate) const HANDOFF: UnparkToken = UnparkToken(1);

/// What the thread waited in was broken (a barrier round: abort, reset,
/// timeout, panicking action).
pub(crate) const BROKEN: UnparkToken = UnparkToken(2);

/// The park token of a waiter that carries no data.
pub(crate) const DEFAULT: ParkToken = parking_lot_core::DEFAULT_PARK_TOKEN;
