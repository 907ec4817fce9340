//! Lists already served, kept with the user's list version they were read at (see
//! `migrations/0015_task_list.sql`). A list request still asks PostgreSQL, in its
//! one statement, whether the version changed: when it has not, the statement reads one
//! small row instead of the page, and the kept response is sent again as it was written,
//! with no row to decode and no JSON to write. Whoever changed the tasks (another instance,
//! the old backend, psql), the next request reads the page again: nothing here is trusted
//! without that check.
//!
//! The lists kept are bounded in bytes (`LIST_CACHE_BYTES`); when they would pass the bound,
//! the lists kept longest go first.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
};

use bytes::Bytes;

use crate::domain::ids::UserId;

/// What `LIST_CACHE_BYTES` is unless set: a few hundred first pages of fifty tasks.
pub const DEFAULT_BYTES: u32 = 8 * 1024 * 1024;

/// What one kept list costs besides its strings: the entry, its key and its place in line.
const ENTRY_OVERHEAD: usize = 160;

/// One list request, as far as its answer depends on it: the user, the path and query
/// string as sent (filters, sort, page size, cursor; the next page's link repeats them) and
/// whether the total was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListKey {
    user: UserId,
    count: bool,
    query: Box<str>,
}

impl ListKey {
    pub fn new(user: UserId, count: bool, path_and_query: Option<&str>) -> Self {
        Self {
            user,
            count,
            query: path_and_query.unwrap_or_default().into(),
        }
    }
}

/// A list response as it was sent.
#[derive(Debug)]
pub struct KeptList {
    /// The user's list version the page was read at.
    pub version: i64,
    /// The JSON array of tasks.
    pub body: Bytes,
    pub etag: String,
    pub total: Option<i64>,
    /// The `Link` to the next page.
    pub next: Option<String>,
}

impl KeptList {
    fn cost(&self, key: &ListKey) -> usize {
        ENTRY_OVERHEAD
            + key.query.len()
            + self.body.len()
            + self.etag.len()
            + self.next.as_ref().map_or(0, String::len)
    }
}

#[derive(Default)]
struct Kept {
    lists: HashMap<ListKey, Arc<KeptList>>,
    /// The keys of `lists`, oldest first.
    line: VecDeque<ListKey>,
    bytes: usize,
}

pub struct ListCache {
    budget: usize,
    kept: Mutex<Kept>,
}

impl ListCache {
    /// Keeps at most `budget` bytes of lists; 0 keeps none.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            kept: Mutex::default(),
        }
    }

    /// The list kept for `key`, to be checked against the user's version before use.
    pub fn get(&self, key: &ListKey) -> Option<Arc<KeptList>> {
        if self.budget == 0 {
            return None;
        }
        self.lock().lists.get(key).cloned()
    }

    /// Keeps `list` for `key`, unless a list of a later version is kept already (a request
    /// that read earlier answered later). A list larger than an eighth of the budget is not
    /// kept: it would push out many others.
    pub fn put(&self, key: ListKey, list: Arc<KeptList>) {
        let cost = list.cost(&key);
        if cost > self.budget / 8 {
            return;
        }
        let mut kept = self.lock();
        let kept = &mut *kept;
        if let Some(old) = kept.lists.get_mut(&key) {
            if old.version > list.version {
                return;
            }
            kept.bytes = kept.bytes - old.cost(&key) + cost;
            *old = list;
        } else {
            kept.bytes += cost;
            kept.line.push_back(key.clone());
            kept.lists.insert(key, list);
        }
        while kept.bytes > self.budget {
            let Some(oldest) = kept.line.pop_front() else {
                break;
            };
            if let Some(gone) = kept.lists.remove(&oldest) {
                kept.bytes -= gone.cost(&oldest);
            }
        }
    }

    /// How many lists and bytes are kept.
    pub fn size(&self) -> (usize, usize) {
        let kept = self.lock();
        (kept.lists.len(), kept.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic while holding the lock leaves the maps consistent: every change above is
        // made before anything that could panic.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(version: i64, body_len: usize) -> Arc<KeptList> {
        Arc::new(KeptList {
            version,
            body: Bytes::from(vec![b' '; body_len]),
            etag: "W/\"e\"".into(),
            total: None,
            next: None,
        })
    }

    fn key(user: i32, query: &str) -> ListKey {
        ListKey::new(UserId(user), false, Some(query))
    }

    #[test]
    fn keeps_by_user_query_and_count() {
        let cache = ListCache::new(1 << 20);
        cache.put(key(1, ""), list(5, 100));
        assert_eq!(cache.get(&key(1, "")).map(|l| l.version), Some(5));
        assert!(cache.get(&key(2, "")).is_none());
        assert!(cache.get(&key(1, "limit=5")).is_none());
        assert!(cache.get(&ListKey::new(UserId(1), true, None)).is_none());
    }

    #[test]
    fn a_later_version_replaces_an_earlier_one_but_not_the_other_way() {
        let cache = ListCache::new(1 << 20);
        cache.put(key(1, ""), list(5, 100));
        cache.put(key(1, ""), list(7, 300));
        cache.put(key(1, ""), list(6, 200));
        assert_eq!(cache.get(&key(1, "")).map(|l| l.version), Some(7));
        let expected = ENTRY_OVERHEAD + 300 + 5;
        assert_eq!(cache.size(), (1, expected));
    }

    #[test]
    fn the_oldest_lists_go_first_when_the_budget_is_full() {
        let budget = 8 * (ENTRY_OVERHEAD + 1000 + 5);
        let cache = ListCache::new(budget);
        for user in 1..=10 {
            cache.put(key(user, ""), list(1, 1000));
        }
        let (count, bytes) = cache.size();
        assert_eq!(count, 8);
        assert!(bytes <= budget);
        assert!(cache.get(&key(1, "")).is_none());
        assert!(cache.get(&key(2, "")).is_none());
        assert!(cache.get(&key(3, "")).is_some());
        assert!(cache.get(&key(10, "")).is_some());
    }

    #[test]
    fn lists_too_large_for_the_budget_and_a_zero_budget_keep_nothing() {
        let cache = ListCache::new(8 * 1024);
        cache.put(key(1, ""), list(1, 2000));
        assert_eq!(cache.size(), (0, 0));
        let off = ListCache::new(0);
        off.put(key(1, ""), list(1, 0));
        assert!(off.get(&key(1, "")).is_none());
        assert_eq!(off.size(), (0, 0));
    }
}
