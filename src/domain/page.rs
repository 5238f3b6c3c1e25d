//! Waldur's page-number pagination as plain values: which page a client asked for, and the page
//! served once the total is known. The API renders the headers (`api::pagination`).

use std::collections::HashMap;

pub const DEFAULT_PAGE_SIZE: i64 = 10;
pub const MAX_PAGE_SIZE: i64 = 300;

/// The requested page: `page` is 1-based; `page_size` falls back to the default when invalid and
/// is capped at the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: PageNumber,
    pub size: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageNumber {
    Number(i64),
    Last,
}

impl PageRequest {
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, InvalidPage> {
        let size = query
            .get("page_size")
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|n| *n > 0)
            .map(|n| n.min(MAX_PAGE_SIZE))
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let page = match query.get("page").map(|s| s.trim()) {
            None | Some("") => PageNumber::Number(1),
            Some("last") => PageNumber::Last,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n >= 1 => PageNumber::Number(n),
                _ => return Err(InvalidPage),
            },
        };
        Ok(Self { page, size })
    }

    /// Where a numbered page starts, known without the total; `None` for "last" (and for an
    /// offset past any possible row, which `resolve` then rejects).
    pub fn offset(&self) -> Option<i64> {
        match self.page {
            PageNumber::Number(n) => (n - 1).checked_mul(self.size),
            PageNumber::Last => None,
        }
    }

    /// The page to serve for `total` rows, or 404 when it lies past the end (page 1 of an empty
    /// list is fine).
    pub fn resolve(&self, total: i64) -> Result<Page, InvalidPage> {
        let pages = ((total + self.size - 1) / self.size).max(1);
        let number = match self.page {
            PageNumber::Last => pages,
            PageNumber::Number(n) if n <= pages => n,
            PageNumber::Number(_) => return Err(InvalidPage),
        };
        Ok(Page {
            number,
            pages,
            size: self.size,
            total,
        })
    }
}

/// A page number that is not a positive integer, or lies past the end: 404 "Invalid page.", as
/// DRF answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Invalid page.")]
pub struct InvalidPage;

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub number: i64,
    pub pages: i64,
    pub size: i64,
    pub total: i64,
}

impl Page {
    pub fn offset(&self) -> i64 {
        (self.number - 1) * self.size
    }

    pub fn limit(&self) -> i64 {
        self.size
    }
}

/// One page of a list, as a service answers a list query.
#[derive(Debug)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub page: Page,
}
