//! Marketplace categories, as the catalogue reads and writes them.

use super::Uuid32;

/// A category as stored, with the number of its offerings.
#[derive(Debug, Clone)]
pub struct Category {
    pub id: i64,
    pub uuid: Uuid32,
    pub title: String,
    pub description: String,
    pub icon: Option<String>,
    pub offering_count: i64,
    /// Its offerings in state Active.
    pub available_offerings_count: i64,
}

/// A category's writable fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryFields {
    pub title: String,
    pub description: String,
}

/// Changes to a category (PUT, PATCH); `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryChanges {
    pub title: Option<String>,
    pub description: Option<String>,
}

impl CategoryChanges {
    pub fn apply(self, base: CategoryFields) -> CategoryFields {
        CategoryFields {
            title: self.title.unwrap_or(base.title),
            description: self.description.unwrap_or(base.description),
        }
    }
}
