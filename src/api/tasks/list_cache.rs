//! Lists already served, kept with the user's list version they were read at (see
//! `migrations/0015_task_list.sql`). A list request still asks PostgreSQL, in its
//! one statement, whether the version changed: when it has not, the statement reads one
//! small row instead of the page, and the kept response is sent again as it was written,
//! with no row to decode and no JSON to write. Whoever changed the tasks (another instance,
//! the old backend, psql), the next request reads the page again: nothing here is trusted
//! without that check.
//!
//! Writes that fire no triggers (`session_replication_role = replica`, `pg_restore
//! --disable-triggers`, logical replication) do not move the version, so that check cannot
//! see them: a list older than `LIST_CACHE_MAX_AGE` is read again, which bounds how long
//! such a change goes unseen.
//!
//! What is kept, and who may push what out:
//! - A list is kept under what the request parsed to ([`ListKey`]): the user, the filters,
//!   sort, order, page size and cursor, and whether a count was asked for. Parameters the
//!   API does not know make no new list (nor do `limit=02` beside `limit=2`, or a blank `q`).
//! - A search (`q`) is not kept: it is rarely asked twice, and the letters of a search as
//!   it is typed would push out the lists its user comes back to.
//! - The lists are kept per user, in one entry of a [`moka`] cache: at most
//!   [`LISTS_PER_USER`] lists and a [`USER_SHARE`]th of the budget each (their least
//!   recently used list goes first), so however many lists one user asks for, they only
//!   push out their own.
//! - Between users, moka's TinyLFU admission decides: a user's entry pushes out others only
//!   when it is asked for more often than they are, so a run of new users (one attacker's
//!   accounts) does not push out the lists that are in use.
//! - The whole is bounded in bytes (`LIST_CACHE_BYTES`, weighed as the lists' bodies and
//!   strings plus a fixed cost per list).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use moka::{ops::compute::Op, sync::Cache};

use super::listing::{Listing, SortField, SortOrder};
use crate::domain::{ids::UserId, task::Priority};

/// What `LIST_CACHE_BYTES` is unless set: a few hundred first pages of fifty tasks.
pub const DEFAULT_BYTES: u32 = 8 * 1024 * 1024;

/// The most lists kept for one user: a list, its filtered views and a few pages.
pub const LISTS_PER_USER: usize = 8;

/// One user's lists take at most this fraction of the budget (1/16: 512 KiB of the default
/// 8 MiB, a page of 500 tasks of a kilobyte each); a list larger than that is not kept.
pub const USER_SHARE: usize = 16;

/// What one kept list costs besides its strings: its key, its place in its user's entry,
/// and its share of that entry in the cache.
const LIST_OVERHEAD: usize = 256;

/// One list request, as far as its answer depends on it: the user, the parsed filters,
/// sort, order, page size and cursor, and whether the total was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListKey {
    user: UserId,
    count: bool,
    completed: Option<bool>,
    priority: Option<Priority>,
    tag: Option<Box<str>>,
    /// As given: `2026-12-01` and `2026-12-01T00:00:00Z` are two lists, each a value a
    /// client chose, and the next page's link repeats it.
    due_before: Option<Box<str>>,
    due_after: Option<Box<str>>,
    sort: SortField,
    order: SortOrder,
    limit: u32,
    /// Where the previous page ended: a sort key and a task id.
    after: Option<(Box<str>, i32)>,
}

impl ListKey {
    /// The key of `listing` for `user`; `None` for a search, which is not kept.
    pub fn new(user: UserId, count: bool, listing: &Listing) -> Option<Self> {
        let query = &listing.query;
        let filters = &query.filters;
        if filters.text.is_some() {
            return None;
        }
        Some(Self {
            user,
            count,
            completed: filters.completed,
            priority: filters.priority,
            tag: filters.tag.as_deref().map(Into::into),
            due_before: listing.due_before.as_ref().map(|d| d.as_str().into()),
            due_after: listing.due_after.as_ref().map(|d| d.as_str().into()),
            sort: listing.sort,
            order: listing.order,
            limit: query.limit,
            after: query
                .after
                .as_ref()
                .map(|a| (a.key.as_str().into(), a.id.0)),
        })
    }

    /// The bytes of its strings.
    fn heap(&self) -> usize {
        let len = |s: &Option<Box<str>>| s.as_ref().map_or(0, |s| s.len());
        len(&self.tag)
            + len(&self.due_before)
            + len(&self.due_after)
            + self.after.as_ref().map_or(0, |(k, _)| k.len())
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
        LIST_OVERHEAD
            + key.heap()
            + self.body.len()
            + self.etag.len()
            + self.next.as_ref().map_or(0, String::len)
    }
}

/// One list kept for a user.
struct Kept {
    key: ListKey,
    list: Arc<KeptList>,
    cost: usize,
    kept_at: Instant,
    /// When it was last sent (see [`ListCache::tick`]): the least recently used goes first.
    used: AtomicU64,
}

/// A user's entry: their lists, all of one list version (an older one cannot be used
/// again: the version it would be checked against has moved on).
struct UserLists {
    lists: Vec<Arc<Kept>>,
    bytes: usize,
}

pub struct ListCache {
    /// `None` when the budget is 0: nothing is kept.
    users: Option<Cache<UserId, Arc<UserLists>>>,
    /// The most bytes of lists one user's entry holds.
    share: usize,
    max_age: Duration,
    /// Where [`Self::tick`] counts from.
    epoch: Instant,
}

impl ListCache {
    /// Keeps at most `budget` bytes of lists (0 keeps none), each for at most `max_age`.
    pub fn new(budget: usize, max_age: Duration) -> Self {
        let users = (budget > 0).then(|| {
            Cache::builder()
                .max_capacity(budget as u64)
                .weigher(|_, lists: &Arc<UserLists>| u32::try_from(lists.bytes).unwrap_or(u32::MAX))
                .time_to_live(max_age)
                .build()
        });
        Self {
            users,
            share: budget / USER_SHARE,
            max_age,
            epoch: Instant::now(),
        }
    }

    /// The list kept for `key`, to be checked against the user's version before use.
    pub fn get(&self, key: &ListKey) -> Option<Arc<KeptList>> {
        let lists = self.users.as_ref()?.get(&key.user)?;
        let kept = lists.lists.iter().find(|kept| kept.key == *key)?;
        // The user's entry lives `max_age` from its last change; each list from its own.
        if kept.kept_at.elapsed() >= self.max_age {
            return None;
        }
        kept.used.store(self.tick(), Ordering::Relaxed);
        Some(kept.list.clone())
    }

    /// Keeps `list` for `key`, unless a list of a later version is kept for the user already
    /// (a request that read earlier answered later). Lists of an earlier version go; when the
    /// user's entry would hold more than [`LISTS_PER_USER`] lists or their share of the
    /// budget, their least recently used lists go. A list larger than the share is not kept.
    pub fn put(&self, key: ListKey, list: Arc<KeptList>) {
        let Some(users) = &self.users else {
            return;
        };
        let cost = list.cost(&key);
        if cost > self.share {
            return;
        }
        let user = key.user;
        let now = Instant::now();
        let new = Arc::new(Kept {
            key,
            list,
            cost,
            kept_at: now,
            used: AtomicU64::new(self.tick()),
        });
        // One change at a time per user: moka runs these in turn for the same key.
        let _ = users.entry(user).and_compute_with(|entry| {
            let mut lists = Vec::with_capacity(LISTS_PER_USER);
            if let Some(entry) = entry {
                let old = entry.into_value();
                if old.lists.iter().any(|k| k.list.version > new.list.version) {
                    return Op::Nop;
                }
                lists.extend(
                    old.lists
                        .iter()
                        .filter(|k| {
                            k.list.version == new.list.version
                                && k.key != new.key
                                && now.duration_since(k.kept_at) < self.max_age
                        })
                        .cloned(),
                );
            }
            lists.push(new);
            Op::Put(Arc::new(self.within_share(lists)))
        });
    }

    /// `lists`, less their least recently used (never the last, just kept) until they are
    /// within one user's bounds.
    fn within_share(&self, mut lists: Vec<Arc<Kept>>) -> UserLists {
        let mut bytes: usize = lists.iter().map(|k| k.cost).sum();
        while lists.len() > LISTS_PER_USER || bytes > self.share {
            let Some(lru) = lists[..lists.len().saturating_sub(1)]
                .iter()
                .enumerate()
                .min_by_key(|(_, kept)| kept.used.load(Ordering::Relaxed))
                .map(|(i, _)| i)
            else {
                break;
            };
            bytes -= lists.remove(lru).cost;
        }
        UserLists { lists, bytes }
    }

    /// A clock for least-recently-used order: nanoseconds since the cache was made.
    fn tick(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// How many lists and bytes are kept, once moka has applied what is pending.
    pub fn size(&self) -> (usize, u64) {
        let Some(users) = &self.users else {
            return (0, 0);
        };
        users.run_pending_tasks();
        let lists = users.iter().map(|(_, lists)| lists.lists.len()).sum();
        (lists, users.weighted_size())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::{
        db::tasks::{Filters, ListQuery, SortKey},
        limits::MAX_PAGE_SIZE,
    };

    const HOUR: Duration = Duration::from_secs(3600);

    fn list(version: i64, body_len: usize) -> Arc<KeptList> {
        Arc::new(KeptList {
            version,
            body: Bytes::from(vec![b' '; body_len]),
            etag: "W/\"e\"".into(),
            total: None,
            next: None,
        })
    }

    fn listing(limit: u32, text: Option<&str>) -> Listing {
        Listing {
            query: ListQuery {
                filters: Filters {
                    text: text.map(str::to_owned),
                    ..Filters::default()
                },
                sort: SortKey::CreatedAt,
                descending: true,
                limit,
                after: None,
            },
            sort: SortField::CreatedAt,
            order: SortOrder::Desc,
            due_before: None,
            due_after: None,
        }
    }

    /// The first page of `user`'s list, `limit` tasks long.
    fn key(user: i32, limit: u32) -> ListKey {
        ListKey::new(UserId(user), false, &listing(limit, None)).unwrap()
    }

    /// What `list(_, body_len)` costs under `key(_, _)`.
    fn cost(body_len: usize) -> usize {
        LIST_OVERHEAD + body_len + 5
    }

    #[test]
    fn keeps_by_user_query_and_count_and_never_a_search() {
        let cache = ListCache::new(1 << 20, HOUR);
        cache.put(key(1, 50), list(5, 100));
        assert_eq!(cache.get(&key(1, 50)).map(|l| l.version), Some(5));
        assert!(cache.get(&key(2, 50)).is_none());
        assert!(cache.get(&key(1, 5)).is_none());
        let counted = ListKey::new(UserId(1), true, &listing(50, None)).unwrap();
        assert!(cache.get(&counted).is_none());
        assert!(ListKey::new(UserId(1), false, &listing(50, Some("milk"))).is_none());
    }

    #[test]
    fn a_later_version_replaces_an_earlier_one_but_not_the_other_way() {
        let cache = ListCache::new(1 << 20, HOUR);
        cache.put(key(1, 50), list(5, 100));
        cache.put(key(1, 5), list(5, 100));
        cache.put(key(1, 50), list(7, 300));
        cache.put(key(1, 50), list(6, 200));
        cache.put(key(1, 5), list(6, 200));
        assert_eq!(cache.get(&key(1, 50)).map(|l| l.version), Some(7));
        // The version moved on: the other list of version 5 could never be used again.
        assert!(cache.get(&key(1, 5)).is_none());
        assert_eq!(cache.size(), (1, cost(300) as u64));
    }

    #[test]
    fn one_user_asking_for_many_lists_pushes_out_only_their_own() {
        let budget = 64 * 1024;
        let cache = ListCache::new(budget, HOUR);
        cache.put(key(2, 50), list(1, 1000));
        for limit in 1..=MAX_PAGE_SIZE {
            cache.put(key(1, limit), list(1, 1000));
            assert!(cache.get(&key(2, 50)).is_some(), "after {limit} lists");
        }
        let (lists, bytes) = cache.size();
        assert_eq!(lists, 1 + (budget / USER_SHARE) / cost(1000));
        assert!(bytes <= budget as u64);
        // The user's most recent list stays.
        assert!(cache.get(&key(1, MAX_PAGE_SIZE)).is_some());
        assert!(cache.get(&key(1, 1)).is_none());
        assert!(cache.get(&key(2, 50)).is_some());
    }

    #[test]
    fn a_users_least_recently_used_list_goes_first() {
        let cache = ListCache::new(1 << 20, HOUR);
        for limit in 1..=LISTS_PER_USER as u32 {
            cache.put(key(1, limit), list(1, 10));
        }
        assert!(cache.get(&key(1, 1)).is_some());
        cache.put(key(1, 100), list(1, 10));
        assert!(cache.get(&key(1, 1)).is_some(), "used since it was kept");
        assert!(cache.get(&key(1, 2)).is_none(), "the least recently used");
        assert_eq!(cache.size().0, LISTS_PER_USER);
    }

    #[test]
    fn new_users_do_not_push_out_the_lists_in_use() {
        let budget = 64 * 1024;
        let cache = ListCache::new(budget, HOUR);
        // A full cache, as it is once the server has run a while.
        for user in 100..200 {
            cache.put(key(user, 50), list(1, 1000));
        }
        cache.size();
        // Users 1 to 4 use their lists while 10 000 others ask once each, as a request
        // does: a miss, then the list kept.
        let in_use = |cache: &ListCache| {
            for user in 1..=4 {
                if cache.get(&key(user, 50)).is_none() {
                    cache.put(key(user, 50), list(1, 1000));
                }
            }
        };
        for _ in 0..3 {
            in_use(&cache);
        }
        for user in 1000..11_000 {
            if user % 100 == 0 {
                in_use(&cache);
            }
            assert!(cache.get(&key(user, 50)).is_none());
            cache.put(key(user, 50), list(1, 1000));
        }
        assert!(cache.size().1 <= budget as u64);
        for user in 1..=4 {
            assert!(cache.get(&key(user, 50)).is_some(), "user {user}");
        }
    }

    #[test]
    fn a_list_older_than_the_max_age_is_not_sent() {
        let cache = ListCache::new(1 << 20, Duration::from_millis(500));
        cache.put(key(1, 50), list(1, 10));
        assert!(cache.get(&key(1, 50)).is_some());
        // The age is the event waited for.
        std::thread::sleep(Duration::from_millis(600));
        // Even in an entry kept alive by a younger list.
        cache.put(key(1, 5), list(1, 10));
        assert!(cache.get(&key(1, 50)).is_none());
        assert!(cache.get(&key(1, 5)).is_some());
    }

    #[test]
    fn lists_too_large_for_a_users_share_and_a_zero_budget_keep_nothing() {
        let cache = ListCache::new(16 * 1024, HOUR);
        cache.put(key(1, 50), list(1, 1024));
        assert_eq!(cache.size(), (0, 0));
        let off = ListCache::new(0, HOUR);
        off.put(key(1, 50), list(1, 0));
        assert!(off.get(&key(1, 50)).is_none());
        assert_eq!(off.size(), (0, 0));
    }
}
