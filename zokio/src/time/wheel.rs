//! A hierarchical timing wheel over integer ticks.
//!
//! Level `n` has 64 slots of `64^n` ticks each, so six levels span `64^6`
//! ticks (about 2.2 years at a 1 ms tick). An entry sits in the slot of the
//! lowest level whose current range contains its deadline: the level is the
//! highest 6-bit digit in which the deadline differs from `elapsed`, the slot
//! is the deadline's digit at that level. When time reaches the start of a
//! slot, the entries there either fire (deadline reached) or move down to a
//! finer level ("cascade"), until they sit in a level-0 slot of one tick.
//!
//! Entries live in a slab (`Vec` with a free list); each slot is a doubly
//! linked list threaded through the slab by index, so inserting, cancelling
//! and moving an entry are O(1) and need no `unsafe`. A key carries the
//! insertion's unique id beside the slab index, so a key whose entry fired or
//! was cancelled never matches the entry that later reuses the slot.
//!
//! Memory: the free list is doubly linked too, so when the last slab slot is
//! freed it and every vacant slot before it are cut off; the slab never
//! extends past its last live entry, and spare capacity is returned once it
//! is four times what is used. Emptying the wheel frees everything but a
//! small reserve.
//!
//! Deadlines further away than the wheel spans are kept in the top level at
//! their deadline's top digit; reaching that slot cascades them again (they
//! simply go back to the top level until they are within range), so they
//! never fire early. Deadlines at or before `elapsed` go to a "due" list that
//! the next [`Wheel::advance`] fires first.

use std::fmt;
use std::task::Waker;

/// Number of levels.
const LEVELS: usize = 6;
/// Bits of the tick consumed by one level.
const SLOT_BITS: usize = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = SLOTS as u64 - 1;
/// Ticks one rotation of the top level covers: the wheel's span.
const SPAN: u64 = 1 << (SLOT_BITS * LEVELS);
/// Latest tick the wheel represents; later deadlines are treated as this one.
/// Far below `u64::MAX`, so slot arithmetic (`start + SPAN + ...`) cannot
/// overflow.
pub(crate) const MAX_TICK: u64 = 1 << 62;
/// "No entry" in the index links.
const NIL: u32 = u32::MAX;
/// Index of the list of entries that were already due when inserted.
const DUE: usize = LEVELS * SLOTS;
/// Slot lists plus the due list.
const LISTS: usize = DUE + 1;
/// Slab capacity kept when the wheel shrinks, so a steady trickle of timers
/// does not reallocate.
const KEEP_SLOTS: usize = 1024;

/// Names one insertion. Stale keys (the entry fired, was cancelled, or its
/// slot was reused) are recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct EntryKey {
    index: u32,
    /// Unique per insertion for the life of the wheel (never 0).
    id: u64,
}

/// What [`Wheel::update_waker`] did.
#[derive(Debug)]
pub(crate) enum WakerUpdate {
    /// The entry is gone: it fired or was cancelled.
    Gone,
    /// The stored waker already wakes the same task; nothing changed.
    Kept,
    /// The stored waker was replaced; here is the old one, to be dropped
    /// outside any lock.
    Replaced(Waker),
}

struct Entry {
    /// The insertion's id; 0 while the slot is vacant.
    id: u64,
    deadline: u64,
    /// `Some` exactly while the slot is occupied.
    waker: Option<Waker>,
    /// Neighbours in the slot list while occupied, in the free list while
    /// vacant (`NIL` at the ends).
    prev: u32,
    next: u32,
    /// Which list the entry is on: `level * SLOTS + slot`, or `DUE`.
    list: u16,
}

/// The timing wheel. Not synchronized: the driver wraps it in a mutex.
pub(crate) struct Wheel {
    entries: Vec<Entry>,
    /// First vacant slab slot (`NIL` if none).
    free_head: u32,
    /// First entry of every slot list and of the due list.
    heads: [u32; LISTS],
    /// Bit `s` of `occupied[l]` is set when slot `s` of level `l` is non-empty.
    occupied: [u64; LEVELS],
    /// Ticks processed so far: every deadline at or before it has fired or
    /// is on the due list.
    elapsed: u64,
    /// Live entries.
    len: usize,
    next_id: u64,
}

impl Wheel {
    pub(crate) fn new() -> Self {
        Wheel {
            entries: Vec::new(),
            free_head: NIL,
            heads: [NIL; LISTS],
            occupied: [0; LEVELS],
            elapsed: 0,
            len: 0,
            next_id: 1,
        }
    }

    /// The last tick processed by [`Wheel::advance`].
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Live (pending) entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether `key`'s entry is still pending.
    pub(crate) fn is_live(&self, key: EntryKey) -> bool {
        self.entries
            .get(key.index as usize)
            .is_some_and(|e| e.id == key.id)
    }

    /// Adds an entry that fires `waker` once `advance` reaches `deadline`
    /// (a deadline at or before `elapsed` fires on the next `advance`).
    pub(crate) fn insert(&mut self, deadline: u64, waker: Waker) -> EntryKey {
        let id = self.next_id;
        self.next_id += 1;
        let entry = Entry {
            id,
            deadline: deadline.min(MAX_TICK),
            waker: Some(waker),
            prev: NIL,
            next: NIL,
            list: 0,
        };
        let index = if self.free_head == NIL {
            let index = u32::try_from(self.entries.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("timing wheel: more than u32::MAX - 1 pending timers");
            self.entries.push(entry);
            index
        } else {
            let index = self.free_head;
            self.unlink_free(index);
            self.entries[index as usize] = entry;
            index
        };
        self.len += 1;
        let list = self.list_for(self.entries[index as usize].deadline);
        self.link(index, list);
        EntryKey { index, id }
    }

    /// Removes `key`'s entry in O(1) and returns its waker (to be dropped
    /// outside any lock), or `None` if the entry already fired or was
    /// cancelled.
    pub(crate) fn cancel(&mut self, key: EntryKey) -> Option<Waker> {
        if !self.is_live(key) {
            return None;
        }
        self.unlink(key.index);
        let waker = self.release(key.index);
        self.release_spare_capacity();
        Some(waker)
    }

    /// Stores `waker` in `key`'s entry unless the stored one wakes the same
    /// task.
    pub(crate) fn update_waker(&mut self, key: EntryKey, waker: &Waker) -> WakerUpdate {
        if !self.is_live(key) {
            return WakerUpdate::Gone;
        }
        let stored = self.entries[key.index as usize]
            .waker
            .as_mut()
            .expect("a live timer entry has a waker");
        if stored.will_wake(waker) {
            WakerUpdate::Kept
        } else {
            WakerUpdate::Replaced(std::mem::replace(stored, waker.clone()))
        }
    }

    /// Moves `key`'s entry to `deadline` in O(1), keeping its key and waker.
    /// Returns `false` if the entry is no longer live.
    pub(crate) fn reschedule(&mut self, key: EntryKey, deadline: u64) -> bool {
        if !self.is_live(key) {
            return false;
        }
        self.unlink(key.index);
        let deadline = deadline.min(MAX_TICK);
        self.entries[key.index as usize].deadline = deadline;
        let list = self.list_for(deadline);
        self.link(key.index, list);
        true
    }

    /// The tick at which [`Wheel::advance`] next has work, in O(levels): the
    /// start of the earliest non-empty slot. That is the earliest deadline
    /// when it sits in a level-0 slot, and otherwise an earlier tick at which
    /// its entry cascades to a finer level (so never after the earliest
    /// deadline). `elapsed` itself if an entry is already due.
    pub(crate) fn next_expiration_tick(&self) -> Option<u64> {
        if self.heads[DUE] != NIL {
            return Some(self.elapsed);
        }
        self.next_slot().map(|(_, tick)| tick)
    }

    /// Processes time up to `now`: hands the waker of every entry whose
    /// deadline is at or before `now` to `fire`, in deadline order, and
    /// returns how many fired. `now` before `elapsed` fires only due entries.
    pub(crate) fn advance(&mut self, now: u64, mut fire: impl FnMut(Waker)) -> usize {
        let now = now.min(MAX_TICK);
        let mut fired = 0;
        let mut index = self.take_list(DUE);
        while index != NIL {
            let next = self.entries[index as usize].next;
            fire(self.release(index));
            fired += 1;
            index = next;
        }
        while let Some((list, tick)) = self.next_slot() {
            if tick > now {
                break;
            }
            debug_assert!(tick > self.elapsed, "a slot expired in the past");
            // Stepping to the slot's start (not straight to `now`) is what
            // keeps firing in deadline order: the entries that are not due
            // yet cascade relative to `tick` and come back in later rounds.
            self.elapsed = tick;
            let mut index = self.take_list(list);
            while index != NIL {
                let entry = &self.entries[index as usize];
                let (next, deadline) = (entry.next, entry.deadline);
                if deadline <= tick {
                    fire(self.release(index));
                    fired += 1;
                } else {
                    let list = self.list_for(deadline);
                    self.link(index, list);
                }
                index = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
        self.release_spare_capacity();
        fired
    }

    /// Removes every entry, handing each waker to `fire`; returns how many.
    pub(crate) fn drain(&mut self, mut fire: impl FnMut(Waker)) -> usize {
        let mut fired = 0;
        for entry in &mut self.entries {
            if let Some(waker) = entry.waker.take() {
                fire(waker);
                fired += 1;
            }
        }
        self.entries.clear();
        self.entries.shrink_to(KEEP_SLOTS);
        self.free_head = NIL;
        self.heads = [NIL; LISTS];
        self.occupied = [0; LEVELS];
        self.len = 0;
        fired
    }

    /// The list a deadline belongs on, relative to `elapsed`.
    fn list_for(&self, deadline: u64) -> usize {
        if deadline <= self.elapsed {
            return DUE;
        }
        let level = level_for(self.elapsed, deadline);
        level * SLOTS + digit(deadline, level)
    }

    /// The earliest non-empty slot: `(list, tick at which it expires)`.
    ///
    /// Every entry of level `l` lies beyond the current slot of level `l`,
    /// which contains the whole current range of level `l - 1`, so the first
    /// non-empty level holds the earliest slot.
    fn next_slot(&self) -> Option<(usize, u64)> {
        (0..LEVELS).find_map(|level| {
            let occupied = self.occupied[level];
            if occupied == 0 {
                return None;
            }
            let slot_ticks = 1u64 << (level * SLOT_BITS);
            let level_ticks = slot_ticks << SLOT_BITS;
            let level_start = self.elapsed & !(level_ticks - 1);
            let current = digit(self.elapsed, level);
            // Slots after the current one expire in this rotation. Only the
            // top level can hold slots at or before the current one (entries
            // beyond the span): those expire in the next rotation.
            let ahead = occupied & (!1u64).checked_shl(current as u32).unwrap_or(0);
            let (slot, start) = if ahead != 0 {
                (ahead.trailing_zeros() as usize, level_start)
            } else {
                debug_assert_eq!(level, LEVELS - 1, "a lower level wrapped");
                (
                    occupied.trailing_zeros() as usize,
                    level_start + level_ticks,
                )
            };
            Some((level * SLOTS + slot, start + slot as u64 * slot_ticks))
        })
    }

    fn link(&mut self, index: u32, list: usize) {
        let head = self.heads[list];
        let entry = &mut self.entries[index as usize];
        entry.list = list as u16;
        entry.prev = NIL;
        entry.next = head;
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        self.heads[list] = index;
        if list != DUE {
            self.occupied[list / SLOTS] |= 1 << (list % SLOTS);
        }
    }

    fn unlink(&mut self, index: u32) {
        let entry = &self.entries[index as usize];
        let (prev, next, list) = (entry.prev, entry.next, entry.list as usize);
        if prev == NIL {
            self.heads[list] = next;
            if next == NIL && list != DUE {
                self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    /// Detaches a whole list and returns its first entry; the entries keep
    /// their `next` links.
    fn take_list(&mut self, list: usize) -> u32 {
        let head = std::mem::replace(&mut self.heads[list], NIL);
        if list != DUE {
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        }
        head
    }

    /// Returns an (already unlinked) entry's slot: drops it, and every vacant
    /// slot before it, if it is the last one; otherwise puts it on the free
    /// list. Each slot is popped at most once per push, so this is O(1)
    /// amortized, and the slab never extends past its last live entry.
    fn release(&mut self, index: u32) -> Waker {
        let entry = &mut self.entries[index as usize];
        let waker = entry.waker.take().expect("a live timer entry has a waker");
        entry.id = 0;
        self.len -= 1;
        if index as usize + 1 == self.entries.len() {
            self.entries.pop();
            while self.entries.last().is_some_and(|e| e.id == 0) {
                let last = (self.entries.len() - 1) as u32;
                self.unlink_free(last);
                self.entries.pop();
            }
        } else {
            let head = self.free_head;
            let entry = &mut self.entries[index as usize];
            entry.prev = NIL;
            entry.next = head;
            if head != NIL {
                self.entries[head as usize].prev = index;
            }
            self.free_head = index;
        }
        waker
    }

    /// Takes a vacant slot off the free list.
    fn unlink_free(&mut self, index: u32) {
        let entry = &self.entries[index as usize];
        let (prev, next) = (entry.prev, entry.next);
        if prev == NIL {
            self.free_head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    /// Returns spare capacity once the slab has shrunk to a quarter of it
    /// (amortized O(1): the slab must shrink by half again before the next
    /// reallocation).
    fn release_spare_capacity(&mut self) {
        let slots = self.entries.len();
        if self.entries.capacity() > KEEP_SLOTS.max(slots * 4) {
            self.entries.shrink_to(KEEP_SLOTS.max(slots * 2));
        }
    }

    /// Slab slots allocated (live or vacant), for memory tests.
    #[cfg(test)]
    pub(crate) fn slab_slots(&self) -> usize {
        self.entries.len()
    }

    /// Slab capacity, for memory tests.
    #[cfg(test)]
    pub(crate) fn slab_capacity(&self) -> usize {
        self.entries.capacity()
    }
}

impl fmt::Debug for Wheel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.len)
            .field("slab_slots", &self.entries.len())
            .finish()
    }
}

/// The level for `deadline` (> `elapsed`): the highest digit in which they
/// differ, capped at the top level for deadlines beyond the span.
fn level_for(elapsed: u64, deadline: u64) -> usize {
    // Or-ing in the level-0 digit makes the result at least level 0.
    let differing = (elapsed ^ deadline) | SLOT_MASK;
    if differing >= SPAN {
        LEVELS - 1
    } else {
        differing.ilog2() as usize / SLOT_BITS
    }
}

/// The 6-bit digit of `tick` at `level`: its slot there.
fn digit(tick: u64, level: usize) -> usize {
    ((tick >> (level * SLOT_BITS)) & SLOT_MASK) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::task::Wake;

    /// A waker that appends its id to a shared log when woken.
    struct Tagged {
        id: u64,
        log: Arc<Mutex<Vec<u64>>>,
    }

    impl Wake for Tagged {
        fn wake(self: Arc<Self>) {
            self.log.lock().unwrap().push(self.id);
        }
    }

    fn tagged(id: u64, log: &Arc<Mutex<Vec<u64>>>) -> Waker {
        Waker::from(Arc::new(Tagged {
            id,
            log: log.clone(),
        }))
    }

    fn take(log: &Arc<Mutex<Vec<u64>>>) -> Vec<u64> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    /// A small deterministic generator (xorshift), so tests need no crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// Below a random power of two up to `2^bits`: spreads values over
        /// every level.
        fn spread(&mut self, bits: u64) -> u64 {
            let bound = 1 << self.below(bits);
            self.below(bound)
        }
    }

    /// Drives the wheel the way the driver does: always to the next
    /// expiration. Returns `(deadline id, tick it fired at)` in firing order.
    fn run_to_completion(wheel: &mut Wheel, log: &Arc<Mutex<Vec<u64>>>) -> Vec<(u64, u64)> {
        let mut fired = Vec::new();
        let mut steps = 0;
        while let Some(tick) = wheel.next_expiration_tick() {
            steps += 1;
            assert!(steps < 1_000_000, "the wheel does not make progress");
            wheel.advance(tick, |w| w.wake());
            fired.extend(take(log).into_iter().map(|id| (id, tick)));
        }
        fired
    }

    #[test]
    fn an_entry_fires_at_its_deadline_and_not_before() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        wheel.insert(5, tagged(1, &log));
        assert_eq!(wheel.next_expiration_tick(), Some(5));
        assert_eq!(wheel.advance(4, |w| w.wake()), 0);
        assert!(take(&log).is_empty());
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.advance(5, |w| w.wake()), 1);
        assert_eq!(take(&log), [1]);
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_expiration_tick(), None);
    }

    #[test]
    fn entries_on_every_level_fire_exactly_at_their_deadline() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        let deadlines = [
            1,
            63,
            64,
            65,
            4_095,
            4_096,
            4_097,
            262_143,
            262_144,
            (1 << 24) + 3,
            (1 << 30) + 7,
            (1 << 35) + 11,
            SPAN - 1,
            SPAN + 5,
        ];
        for (id, &d) in deadlines.iter().enumerate() {
            wheel.insert(d, tagged(id as u64, &log));
        }
        for (id, &d) in deadlines.iter().enumerate() {
            wheel.advance(d - 1, |w| w.wake());
            assert!(take(&log).is_empty(), "deadline {d} fired early");
            wheel.advance(d, |w| w.wake());
            assert_eq!(take(&log), [id as u64], "deadline {d}");
        }
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn next_expiration_is_the_start_of_the_next_slot_to_process() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        assert_eq!(wheel.next_expiration_tick(), None);
        let far = wheel.insert(1 << 33, tagged(0, &log));
        // Level 5 slot 8 starts exactly at the deadline.
        assert_eq!(wheel.next_expiration_tick(), Some(1 << 33));
        let mid = wheel.insert(100_000, tagged(1, &log));
        // A level-2 slot starts at 98_304 (= 24 * 4096): the entry cascades there.
        assert_eq!(wheel.next_expiration_tick(), Some(98_304));
        wheel.insert(70, tagged(2, &log));
        // Level 1, slot 1: it cascades at 64.
        assert_eq!(wheel.next_expiration_tick(), Some(64));
        wheel.insert(50, tagged(3, &log));
        assert_eq!(wheel.next_expiration_tick(), Some(50));
        wheel.advance(50, |w| w.wake());
        assert_eq!(wheel.next_expiration_tick(), Some(64));
        wheel.advance(64, |w| w.wake());
        assert_eq!(wheel.next_expiration_tick(), Some(70));
        wheel.advance(70, |w| w.wake());
        assert_eq!(wheel.next_expiration_tick(), Some(98_304));
        wheel.advance(98_304, |w| w.wake());
        // Cascaded to level 1: slot of 99_968 (= 1562 * 64).
        assert_eq!(wheel.next_expiration_tick(), Some(99_968));
        wheel.advance(99_968, |w| w.wake());
        assert_eq!(wheel.next_expiration_tick(), Some(100_000));
        wheel.cancel(mid).unwrap();
        assert_eq!(wheel.next_expiration_tick(), Some(1 << 33));
        wheel.cancel(far).unwrap();
        assert_eq!(wheel.next_expiration_tick(), None);
        assert_eq!(take(&log), [3, 2]);
    }

    #[test]
    fn a_big_jump_fires_everything_due_in_deadline_order() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut deadlines = BTreeMap::new();
        for id in 0..2_000 {
            // Spread over several levels, all distinct.
            let d = loop {
                let d = 1 + rng.spread(26);
                if !deadlines.values().any(|&v| v == d) {
                    break d;
                }
            };
            deadlines.insert(id, d);
            wheel.insert(d, tagged(id, &log));
        }
        let limit = 1 << 18;
        wheel.advance(limit, |w| w.wake());
        let fired = take(&log);
        let expected: Vec<u64> = {
            let mut due: Vec<(u64, u64)> = deadlines
                .iter()
                .filter(|&(_, &d)| d <= limit)
                .map(|(&id, &d)| (d, id))
                .collect();
            due.sort();
            due.into_iter().map(|(_, id)| id).collect()
        };
        assert_eq!(fired, expected);
        assert_eq!(wheel.len(), deadlines.len() - expected.len());
        // The rest fire exactly on time when driven tick by tick.
        for (id, tick) in run_to_completion(&mut wheel, &log) {
            assert_eq!(tick, deadlines[&id]);
        }
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn far_deadlines_cascade_and_fire_exactly_on_time() {
        // At a 1 ms tick: an hour, a day, a month, and three years (beyond
        // the span of about 2.2 years, so it re-enters the top level).
        let hour = 3_600_000;
        let day = 24 * hour;
        let deadlines = [hour, day, 30 * day, 3 * 365 * day, SPAN * 7 + 12_345];
        assert!(deadlines[3] > SPAN);
        let log = Arc::default();
        let mut wheel = Wheel::new();
        // Start from an awkward `elapsed` near the end of a top-level rotation.
        let start = SPAN - 3;
        wheel.advance(start, |_| unreachable!());
        for (id, d) in deadlines.iter().enumerate() {
            wheel.insert(start + d, tagged(id as u64, &log));
        }
        let fired = run_to_completion(&mut wheel, &log);
        let expected: Vec<(u64, u64)> = deadlines
            .iter()
            .enumerate()
            .map(|(id, d)| (id as u64, start + d))
            .collect();
        assert_eq!(fired, expected);
    }

    #[test]
    fn a_top_level_wrap_does_not_hide_an_earlier_slot() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        // `elapsed` in top-level slot 3; a beyond-span entry whose top digit
        // is also 3, then an in-range entry in top-level slot 5.
        let start = 3 << 30;
        wheel.advance(start, |_| unreachable!());
        wheel.insert(start + SPAN + 10, tagged(0, &log));
        wheel.insert(5 << 30, tagged(1, &log));
        assert_eq!(wheel.next_expiration_tick(), Some(5 << 30));
        let fired = run_to_completion(&mut wheel, &log);
        assert_eq!(fired, [(1, 5 << 30), (0, start + SPAN + 10)]);
    }

    #[test]
    fn deadlines_beyond_max_tick_are_clamped() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        let key = wheel.insert(u64::MAX, tagged(0, &log));
        assert_eq!(wheel.entries[key.index as usize].deadline, MAX_TICK);
        let next = wheel.next_expiration_tick().unwrap();
        assert!(next <= SPAN, "cascades within one rotation, got {next}");
        wheel.advance(SPAN * 3, |w| w.wake());
        assert!(take(&log).is_empty());
        assert!(wheel.is_live(key));
        assert!(wheel.next_expiration_tick().unwrap() > SPAN * 3);
    }

    #[test]
    fn cancel_is_exact_and_stale_keys_are_ignored() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        let a = wheel.insert(10, tagged(0, &log));
        let b = wheel.insert(10, tagged(1, &log));
        let c = wheel.insert(10, tagged(2, &log));
        assert_eq!(wheel.len(), 3);
        assert!(wheel.cancel(b).is_some());
        assert!(wheel.cancel(b).is_none());
        assert!(!wheel.is_live(b));
        assert_eq!(wheel.len(), 2);
        assert_eq!(wheel.advance(10, |w| w.wake()), 2);
        let mut fired = take(&log);
        fired.sort();
        assert_eq!(fired, [0, 2]);
        assert!(
            wheel.cancel(a).is_none(),
            "fired entries cannot be cancelled"
        );
        assert!(wheel.cancel(c).is_none());
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn a_reused_slot_does_not_answer_to_an_old_key() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        let _keep = wheel.insert(1_000, tagged(9, &log));
        let old = wheel.insert(10, tagged(0, &log));
        wheel.cancel(old).unwrap();
        let new = wheel.insert(20, tagged(1, &log));
        assert_eq!(old.index, new.index, "the slot is reused");
        assert!(!wheel.is_live(old));
        assert!(wheel.cancel(old).is_none());
        assert!(matches!(
            wheel.update_waker(old, &tagged(5, &log)),
            WakerUpdate::Gone
        ));
        assert!(!wheel.reschedule(old, 5));
        assert!(wheel.is_live(new));
        wheel.advance(20, |w| w.wake());
        assert_eq!(take(&log), [1]);
    }

    #[test]
    fn cancelling_keeps_the_other_entries_of_a_slot_linked() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        let keys: Vec<_> = (0..10)
            .map(|id| wheel.insert(7, tagged(id, &log)))
            .collect();
        // Head, tail and middle of the slot list.
        for i in [9, 0, 4] {
            wheel.cancel(keys[i]).unwrap();
        }
        wheel.advance(7, |w| w.wake());
        let mut fired = take(&log);
        fired.sort();
        assert_eq!(fired, [1, 2, 3, 5, 6, 7, 8]);
    }

    #[test]
    fn update_waker_replaces_only_a_different_waker() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        let first = tagged(0, &log);
        let key = wheel.insert(3, first.clone());
        assert!(matches!(wheel.update_waker(key, &first), WakerUpdate::Kept));
        let WakerUpdate::Replaced(old) = wheel.update_waker(key, &tagged(1, &log)) else {
            panic!("expected the waker to be replaced");
        };
        assert!(old.will_wake(&first));
        wheel.advance(3, |w| w.wake());
        assert_eq!(take(&log), [1]);
    }

    #[test]
    fn reschedule_moves_an_entry_earlier_and_later() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        let key = wheel.insert(10_000, tagged(0, &log));
        assert!(wheel.reschedule(key, 50));
        assert_eq!(wheel.next_expiration_tick(), Some(50));
        assert_eq!(wheel.advance(49, |w| w.wake()), 0);
        assert!(wheel.reschedule(key, 300));
        assert_eq!(wheel.advance(299, |w| w.wake()), 0);
        assert!(wheel.is_live(key), "the key survives a move");
        assert_eq!(wheel.advance(300, |w| w.wake()), 1);
        assert_eq!(take(&log), [0]);
        assert!(!wheel.reschedule(key, 400));
    }

    #[test]
    fn deadlines_already_reached_fire_on_the_next_advance() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        wheel.advance(100, |_| unreachable!());
        wheel.insert(90, tagged(0, &log));
        wheel.insert(100, tagged(1, &log));
        let later = wheel.insert(500, tagged(2, &log));
        assert_eq!(wheel.next_expiration_tick(), Some(100));
        // Even an `advance` to an older `now` fires them: they are due.
        assert_eq!(wheel.advance(50, |w| w.wake()), 2);
        let mut fired = take(&log);
        fired.sort();
        assert_eq!(fired, [0, 1]);
        assert_eq!(wheel.elapsed(), 100, "time never goes backwards");
        assert!(wheel.reschedule(later, 20));
        assert_eq!(wheel.advance(100, |w| w.wake()), 1);
        assert_eq!(take(&log), [2]);
    }

    #[test]
    fn a_million_insert_then_cancel_leaves_nothing() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        let waker = tagged(0, &log);
        for i in 0..1_000_000u64 {
            let key = wheel.insert(1 + i % 100_000, waker.clone());
            assert!(wheel.cancel(key).is_some());
        }
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.slab_slots(), 0);
        assert_eq!(wheel.next_expiration_tick(), None);
        // The same for a million pending at once.
        let keys: Vec<_> = (0..1_000_000u64)
            .map(|i| wheel.insert(1 + i * 7919 % 50_000_000, waker.clone()))
            .collect();
        assert_eq!(wheel.len(), 1_000_000);
        for key in keys {
            assert!(wheel.cancel(key).is_some());
        }
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.slab_slots(), 0);
        assert!(wheel.slab_capacity() <= KEEP_SLOTS);
        assert_eq!(wheel.next_expiration_tick(), None);
        // Still usable.
        wheel.insert(3, tagged(1, &log));
        assert_eq!(wheel.advance(3, |w| w.wake()), 1);
        assert_eq!(take(&log), [1]);
    }

    #[test]
    fn the_slab_shrinks_while_a_few_entries_stay_pending() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        let waker = tagged(0, &log);
        let long_lived = wheel.insert(1 << 40, waker.clone());
        let keys: Vec<_> = (0..100_000u64)
            .map(|i| wheel.insert(10 + i, waker.clone()))
            .collect();
        for key in keys {
            wheel.cancel(key).unwrap();
        }
        assert_eq!(wheel.len(), 1);
        assert!(
            wheel.slab_slots() == 1 && wheel.slab_capacity() <= KEEP_SLOTS,
            "slots {} capacity {}",
            wheel.slab_slots(),
            wheel.slab_capacity()
        );
        assert!(wheel.is_live(long_lived));
        // Freed space is reused rather than grown.
        for i in 0..10_000u64 {
            let key = wheel.insert(5 + i, waker.clone());
            wheel.cancel(key).unwrap();
        }
        assert!(wheel.slab_slots() <= 2);
        assert!(wheel.cancel(long_lived).is_some());
        assert_eq!(wheel.slab_slots(), 0);
    }

    #[test]
    fn drain_hands_out_every_waker() {
        let log = Arc::default();
        let mut wheel = Wheel::new();
        for id in 0..100 {
            wheel.insert(1 + id * 1_000, tagged(id, &log));
        }
        assert_eq!(wheel.drain(|w| w.wake()), 100);
        assert_eq!(take(&log).len(), 100);
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_expiration_tick(), None);
    }

    /// Random inserts, cancels, moves and advances, checked against a plain
    /// map: nothing fires early, late, twice, or after being cancelled.
    #[test]
    fn random_operations_match_a_simple_model() {
        let log = Arc::default();
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        let mut wheel = Wheel::new();
        let mut model: BTreeMap<u64, (EntryKey, u64)> = BTreeMap::new();
        let mut next_id = 0;
        for _ in 0..20_000 {
            match rng.below(10) {
                0..=4 => {
                    let deadline = wheel.elapsed() + rng.spread(40);
                    let key = wheel.insert(deadline, tagged(next_id, &log));
                    model.insert(next_id, (key, deadline));
                    next_id += 1;
                }
                5 if !model.is_empty() => {
                    let id = *model
                        .keys()
                        .nth(rng.below(model.len() as u64) as usize)
                        .unwrap();
                    let (key, _) = model.remove(&id).unwrap();
                    assert!(wheel.cancel(key).is_some());
                }
                6 if !model.is_empty() => {
                    let id = *model
                        .keys()
                        .nth(rng.below(model.len() as u64) as usize)
                        .unwrap();
                    let deadline = wheel.elapsed() + rng.spread(30);
                    let entry = model.get_mut(&id).unwrap();
                    assert!(wheel.reschedule(entry.0, deadline));
                    entry.1 = deadline;
                }
                _ => {
                    let earliest = model.values().map(|&(_, d)| d).min();
                    let next = wheel.next_expiration_tick();
                    assert_eq!(next.is_some(), earliest.is_some());
                    if let (Some(next), Some(earliest)) = (next, earliest) {
                        assert!(next <= earliest.max(wheel.elapsed()), "{next} > {earliest}");
                    }
                    let now = if rng.below(2) == 0 {
                        next.unwrap_or(wheel.elapsed())
                    } else {
                        wheel.elapsed() + rng.spread(36)
                    };
                    wheel.advance(now, |w| w.wake());
                    let fired = take(&log);
                    let mut last = 0;
                    for id in &fired {
                        let (_, deadline) = model.remove(id).expect("fired once, while pending");
                        assert!(deadline <= now.max(wheel.elapsed()), "fired early");
                        assert!(deadline >= last, "fired out of order");
                        last = deadline;
                    }
                    assert!(
                        model.values().all(|&(_, d)| d > now),
                        "an entry due at {now} did not fire"
                    );
                }
            }
            assert_eq!(wheel.len(), model.len());
        }
    }
}
