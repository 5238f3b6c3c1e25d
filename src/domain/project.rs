//! Projects: the fields a client sets, and a project as a read hands it from `store` through
//! `service` to the API.

use super::time::Micros;
use super::Uuid32;

/// A project's fields as a client sets them. Dates are `YYYY-MM-DD` as the client sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFields {
    pub name: String,
    pub slug: String,
    pub description: String,
    pub backend_id: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

/// The fields a request names, laid over the project it changes (`Some(None)` clears a date).
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub backend_id: Option<String>,
    pub start_date: Option<Option<String>>,
    pub end_date: Option<Option<String>>,
}

impl ProjectPatch {
    pub fn apply(&self, fields: &mut ProjectFields) {
        let text = [
            (&self.name, &mut fields.name),
            (&self.slug, &mut fields.slug),
            (&self.description, &mut fields.description),
            (&self.backend_id, &mut fields.backend_id),
        ];
        for (given, slot) in text {
            if let Some(value) = given {
                slot.clone_from(value);
            }
        }
        let dates = [
            (&self.start_date, &mut fields.start_date),
            (&self.end_date, &mut fields.end_date),
        ];
        for (given, slot) in dates {
            if let Some(value) = given {
                slot.clone_from(value);
            }
        }
    }
}

/// A project that is not removed, with what the API shows of its customer.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: i64,
    pub uuid: Uuid32,
    pub created: Micros,
    pub fields: ProjectFields,
    pub customer: ProjectCustomer,
}

/// The customer a project belongs to. Usage totals are kept per customer, so a project never
/// moves to another.
#[derive(Debug, Clone)]
pub struct ProjectCustomer {
    pub id: i64,
    pub uuid: Uuid32,
    pub name: String,
    pub slug: String,
    pub native_name: String,
    pub abbreviation: String,
}

/// Which projects a list shows, besides what the caller may see.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    /// `customer_uuid`: this customer's.
    pub customer_uuid: Option<Uuid32>,
    /// `customer`: any of these customers' (none: any).
    pub customers: Vec<Uuid32>,
    /// `name_exact` and `name` (a case-insensitive substring); empty values filter nothing.
    pub name_exact: Option<String>,
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_changes_only_what_it_names_and_null_clears_a_date() {
        let mut fields = ProjectFields {
            name: "P".into(),
            start_date: Some("2026-01-01".into()),
            end_date: Some("2026-12-31".into()),
            ..Default::default()
        };
        let patch = ProjectPatch {
            description: Some("d".into()),
            end_date: Some(None),
            ..Default::default()
        };
        patch.apply(&mut fields);
        assert_eq!(fields.name, "P");
        assert_eq!(fields.description, "d");
        assert_eq!(fields.start_date.as_deref(), Some("2026-01-01"));
        assert_eq!(fields.end_date, None);
    }
}
