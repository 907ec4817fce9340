//! Memory for list pages, bounded across requests (`LIST_PAGES_MEMORY`).
//!
//! A page is bounded by `LIST_PAGE_BYTES`, but the pages alive at once are as many as the
//! requests in flight, and a client that does not read keeps its page until the send
//! timeout. Every page may hold [`FREE_BYTES`] without asking; beyond that it draws on a
//! shared budget of bytes for as long as any part of it is alive: while it is sent, while a
//! client is not taking it, while the list cache keeps it. When the budget runs short, a
//! page ends early (as it does at `LIST_PAGE_BYTES`) with its `Link` to the rest: clients
//! that do not read cannot make the server hold more than the budget, and everyone else is
//! still served, in smaller pages.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget unless `LIST_PAGES_MEMORY` says otherwise.
pub const DEFAULT_BYTES: u32 = 64 * 1024 * 1024;

/// What any page may hold without drawing on the budget: ordinary pages never wait for
/// room, and a page always has room for a few tasks.
pub const FREE_BYTES: usize = 64 * 1024;

/// The shared budget.
#[derive(Debug, Clone)]
pub struct PageMemory {
    room: Arc<Semaphore>,
}

impl PageMemory {
    pub fn new(bytes: usize) -> Self {
        Self {
            room: Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Room for a page of up to `wanted` bytes: [`FREE_BYTES`], and as much more as the
    /// budget has free right now. It never waits.
    pub fn reserve(&self, wanted: usize) -> Room {
        let extra = wanted.saturating_sub(FREE_BYTES);
        let free = self.room.available_permits();
        let drawn = u32::try_from(extra.min(free))
            .ok()
            .filter(|&n| n > 0)
            // Another page may take the room between the look and the draw: then this one
            // makes do with what is free of charge.
            .and_then(|n| self.room.clone().try_acquire_many_owned(n).ok());
        let budget = wanted.min(FREE_BYTES + drawn.as_ref().map_or(0, |p| p.num_permits()));
        Room {
            drawn,
            budget,
            wanted,
        }
    }

    /// Bytes of the budget not in use.
    pub fn available(&self) -> usize {
        self.room.available_permits()
    }
}

/// Room reserved for one page.
#[derive(Debug)]
pub struct Room {
    drawn: Option<OwnedSemaphorePermit>,
    budget: usize,
    wanted: usize,
}

impl Room {
    /// The most bytes the page may have.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Whether the budget was short: the page may end before `LIST_PAGE_BYTES`.
    pub fn is_short(&self) -> bool {
        self.budget < self.wanted
    }

    /// The page written into this room, as bytes that hold what they use of the budget
    /// until the last of them (a clone, a slice) is dropped; the rest goes back at once.
    pub fn hold(self, mut body: Vec<u8>) -> Bytes {
        body.shrink_to_fit();
        let Some(mut drawn) = self.drawn else {
            return Bytes::from(body);
        };
        let used = body.len().saturating_sub(FREE_BYTES);
        if used == 0 {
            return Bytes::from(body);
        }
        // What was drawn bounds what was written; the part not written goes back.
        drop(drawn.split(drawn.num_permits().saturating_sub(used)));
        Bytes::from_owner(Held {
            body,
            _drawn: drawn,
        })
    }
}

/// A page and its share of the budget, given back together.
struct Held {
    body: Vec<u8>,
    _drawn: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn a_page_within_the_free_bytes_draws_nothing() {
        let memory = PageMemory::new(MIB);
        let room = memory.reserve(FREE_BYTES / 2);
        assert_eq!(room.budget(), FREE_BYTES / 2);
        assert!(!room.is_short());
        assert_eq!(memory.available(), MIB);
        let body = room.hold(vec![b'x'; 100]);
        assert_eq!(body.len(), 100);
        assert_eq!(memory.available(), MIB);
    }

    #[test]
    fn a_large_page_holds_what_it_wrote_until_its_last_bytes_are_dropped() {
        let memory = PageMemory::new(4 * MIB);
        let room = memory.reserve(MIB);
        assert_eq!(room.budget(), MIB);
        assert_eq!(memory.available(), 4 * MIB - (MIB - FREE_BYTES));

        let written = FREE_BYTES + 1000;
        let body = room.hold(vec![b'x'; written]);
        // Only what the page took beyond the free bytes stays drawn.
        assert_eq!(memory.available(), 4 * MIB - 1000);

        let piece = body.slice(0..10);
        let copy = body.clone();
        drop(body);
        drop(copy);
        assert_eq!(memory.available(), 4 * MIB - 1000, "a slice still holds it");
        drop(piece);
        assert_eq!(memory.available(), 4 * MIB);
    }

    #[test]
    fn a_short_budget_gives_pages_what_is_left_and_never_less_than_the_free_bytes() {
        let memory = PageMemory::new(MIB);
        let first = memory.reserve(MIB + FREE_BYTES);
        assert_eq!(first.budget(), MIB + FREE_BYTES);
        assert!(!first.is_short());
        let held = first.hold(vec![b'x'; MIB + FREE_BYTES]);
        assert_eq!(memory.available(), 0);

        let second = memory.reserve(MIB);
        assert!(second.is_short());
        assert_eq!(second.budget(), FREE_BYTES);
        drop(second);

        drop(held);
        let third = memory.reserve(MIB);
        assert_eq!(third.budget(), MIB);
    }

    #[test]
    fn room_not_written_goes_back_when_the_page_is_held_or_dropped() {
        let memory = PageMemory::new(MIB);
        let unused = memory.reserve(MIB);
        assert!(memory.available() < MIB);
        drop(unused);
        assert_eq!(memory.available(), MIB);

        let small = memory.reserve(MIB).hold(vec![b'x'; 10]);
        assert_eq!(memory.available(), MIB);
        drop(small);
    }

    #[test]
    fn no_budget_leaves_every_page_its_free_bytes() {
        let memory = PageMemory::new(0);
        let room = memory.reserve(MIB);
        assert_eq!(room.budget(), FREE_BYTES);
        assert!(room.is_short());
    }
}
