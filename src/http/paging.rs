//! `?page=&per_page=` on every list: pages from 1, at most 100 items each.

use serde::{Deserialize, Serialize};

use crate::domain::DomainError;

pub const MAX_PAGE: i64 = 10_000;
pub const MAX_PER_PAGE: i64 = 100;
const DEFAULT_PER_PAGE: i64 = 20;

/// Which page of a list to answer.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    #[param(minimum = 1, maximum = 10000)]
    pub page: Option<i64>,
    /// Items per page (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

/// A validated page: its number, its size, and the offset of its first item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Page {
    pub page: i64,
    pub per_page: i64,
}

impl Page {
    pub const fn offset(self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

impl PageQuery {
    /// # Errors
    /// `VALIDATION_FAILED` naming the parameter out of bounds.
    pub fn page(self) -> Result<Page, DomainError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(DomainError::validation("page", format!("must be between 1 and {MAX_PAGE}")));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(DomainError::validation("per_page", format!("must be between 1 and {MAX_PER_PAGE}")));
        }
        Ok(Page { page, per_page })
    }
}
