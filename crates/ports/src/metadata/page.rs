//! The tenant a unit of work runs for, and keyset pages of listings.

use coffer_domain::{PageCursor, TenantId};
use serde::Serialize;

/// The tenant a unit of metadata work runs for. Every tenant-scoped method
/// takes one; the PostgreSQL adapter turns it into `SET LOCAL
/// coffer.tenant_id` so row-level security confines the whole transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantScope(TenantId);

impl TenantScope {
    pub const fn new(tenant: TenantId) -> Self {
        Self(tenant)
    }

    pub const fn tenant_id(&self) -> TenantId {
        self.0
    }
}

/// A page of results and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The most items one page of a listing holds.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// How many items a page of the requested `limit` holds: 1 to
/// [`MAX_PAGE_SIZE`], whatever the caller asked for.
pub fn page_size(limit: u32) -> u32 {
    limit.clamp(1, MAX_PAGE_SIZE)
}

/// How many rows a store fetches for a page of the requested `limit`: one
/// more than the page holds, so that [`Page::from_overfetch`] knows whether
/// another page follows without a second query.
pub fn fetch_size(limit: u32) -> u32 {
    page_size(limit) + 1
}

impl<T> Page<T> {
    /// The page of the requested `limit` from `items`, fetched in keyset
    /// order with up to [`fetch_size`] rows. When more than the page holds
    /// came back, the extra one is dropped and the next page starts after
    /// the cursor of the last item kept.
    pub fn from_overfetch(
        mut items: Vec<T>,
        limit: u32,
        cursor_of: impl Fn(&T) -> PageCursor,
    ) -> Self {
        let size = page_size(limit) as usize;
        let next_cursor = if items.len() > size {
            items.truncate(size);
            items.last().map(|last| cursor_of(last).encode())
        } else {
            None
        };
        Self { items, next_cursor }
    }

    /// One page of a listing kept in two places (a tenant's dedicated
    /// database and the shared one), from one page of each fetched with
    /// the same cursor and `limit`: the first `limit` items of both in
    /// keyset order (`descending` for newest-first listings). Taking no
    /// more than one page's worth keeps every item before the last of
    /// either page, so nothing a source holds past its page is skipped.
    pub fn merge(
        a: Self,
        b: Self,
        limit: u32,
        descending: bool,
        cursor_of: impl Fn(&T) -> PageCursor,
    ) -> Self {
        let key = |item: &T| {
            let c = cursor_of(item);
            (c.created_at, c.id)
        };
        let more_behind = a.next_cursor.is_some() || b.next_cursor.is_some();
        let mut items: Vec<T> = a.items.into_iter().chain(b.items).collect();
        if descending {
            items.sort_by_key(|item| std::cmp::Reverse(key(item)));
        } else {
            items.sort_by_key(key);
        }
        let size = page_size(limit) as usize;
        let truncated = items.len() > size;
        items.truncate(size);
        let next_cursor = (truncated || more_behind)
            .then(|| items.last().map(|last| cursor_of(last).encode()))
            .flatten();
        Self { items, next_cursor }
    }

    /// [`Page::from_overfetch`] of stored rows, each converted to an item
    /// first; the first row that does not convert is the error.
    pub fn try_from_overfetch<R, E>(
        rows: Vec<R>,
        limit: u32,
        cursor_of: impl Fn(&T) -> PageCursor,
    ) -> Result<Self, E>
    where
        T: TryFrom<R, Error = E>,
    {
        let items = rows
            .into_iter()
            .map(T::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Self::from_overfetch(items, limit, cursor_of))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;
    use uuid::Uuid;

    fn cursor(n: &u32) -> PageCursor {
        PageCursor {
            created_at: OffsetDateTime::UNIX_EPOCH,
            id: Uuid::from_u128(u128::from(*n)),
        }
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(page_size(0), 1);
        assert_eq!(page_size(20), 20);
        assert_eq!(page_size(5000), MAX_PAGE_SIZE);
        assert_eq!(fetch_size(0), 2);
        assert_eq!(fetch_size(u32::MAX), MAX_PAGE_SIZE + 1);
    }

    #[test]
    fn an_extra_row_means_another_page() {
        let page = Page::from_overfetch(vec![1, 2, 3], 2, cursor);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor, Some(cursor(&2).encode()));
    }

    #[test]
    fn no_extra_row_means_the_last_page() {
        let page = Page::from_overfetch(vec![1, 2], 2, cursor);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor, None);
        let empty = Page::from_overfetch(Vec::<u32>::new(), 2, cursor);
        assert_eq!(empty.next_cursor, None);
    }

    struct Row(i64);

    impl TryFrom<Row> for u32 {
        type Error = String;

        fn try_from(row: Row) -> Result<Self, String> {
            u32::try_from(row.0).map_err(|_| format!("{} is not a count", row.0))
        }
    }

    #[test]
    fn rows_convert_before_paging() {
        let page = Page::<u32>::try_from_overfetch(vec![Row(1), Row(2), Row(3)], 2, cursor);
        assert_eq!(
            page,
            Ok(Page {
                items: vec![1, 2],
                next_cursor: Some(cursor(&2).encode()),
            })
        );
        let bad = Page::<u32>::try_from_overfetch(vec![Row(1), Row(-1)], 2, cursor);
        assert_eq!(bad, Err("-1 is not a count".to_owned()));
    }

    /// Pages of `items` (cursor seconds) as a store would serve them.
    fn served(items: &[u32], after: Option<u32>, limit: u32, descending: bool) -> Page<u32> {
        let mut all: Vec<u32> = items.to_vec();
        all.sort_unstable();
        if descending {
            all.reverse();
        }
        let rest: Vec<u32> = all
            .into_iter()
            .filter(|n| after.is_none_or(|a| if descending { *n < a } else { *n > a }))
            .take(fetch_size(limit) as usize)
            .collect();
        Page::from_overfetch(rest, limit, cursor)
    }

    #[test]
    fn merged_pages_list_both_sources_once_in_order() {
        for descending in [false, true] {
            let a = [1, 2, 3, 4, 9, 10, 11];
            let b = [5, 6, 7, 8, 12];
            let mut seen = Vec::new();
            let mut after: Option<u32> = None;
            for _ in 0..20 {
                let page = Page::merge(
                    served(&a, after, 3, descending),
                    served(&b, after, 3, descending),
                    3,
                    descending,
                    cursor,
                );
                assert!(page.items.len() <= 3);
                seen.extend(page.items.iter().copied());
                match page.next_cursor {
                    Some(next) => {
                        let c = PageCursor::decode(&next).unwrap_or_else(|_| unreachable!());
                        after = u32::try_from(c.id.as_u128()).ok();
                    }
                    None => break,
                }
            }
            let mut expected: Vec<u32> = a.iter().chain(&b).copied().collect();
            expected.sort_unstable();
            if descending {
                expected.reverse();
            }
            assert_eq!(seen, expected, "descending: {descending}");
        }
    }

    #[test]
    fn the_page_size_is_clamped_too() {
        let page = Page::from_overfetch(vec![1, 2], 0, cursor);
        assert_eq!(page.items, vec![1]);
        assert_eq!(page.next_cursor, Some(cursor(&1).encode()));
    }
}
