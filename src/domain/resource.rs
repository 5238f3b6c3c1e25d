//! A marketplace resource as the API shows it and the use cases decide on: every stored value
//! decoded, with the names of the objects it belongs to; and the edits a client may make to it.

use super::marketplace::ResourceState;
use super::time::Micros;
use super::Uuid32;

#[derive(Debug, Clone)]
pub struct Resource {
    pub id: i64,
    pub uuid: Uuid32,
    pub name: String,
    pub description: String,
    pub state: ResourceState,
    /// The limits the resource has, as stored JSON.
    pub limits: String,
    /// The client's JSON object, stored as sent and never read.
    pub attributes: String,
    pub backend_id: String,
    /// `YYYY-MM-DD` as the client sent it.
    pub end_date: Option<String>,
    pub paused: bool,
    pub downscaled: bool,
    pub restrict_member_access: bool,
    pub created: Micros,
    pub modified: Micros,
    pub project_id: i64,
    pub project_uuid: Uuid32,
    pub project_name: String,
    pub customer_id: i64,
    pub customer_uuid: Uuid32,
    pub customer_name: String,
    pub offering_id: i64,
    pub offering_uuid: Uuid32,
    pub offering_name: String,
    pub offering_type: String,
    /// The offering's `plugin_options`, as stored JSON.
    pub offering_plugin_options: String,
    /// The offering's customer, the provider who reports the resource's usage.
    pub provider_customer_id: i64,
    pub provider_uuid: Uuid32,
    pub provider_name: String,
    pub plan_id: Option<i64>,
    pub plan_uuid: Option<Uuid32>,
    pub plan_name: Option<String>,
    /// The policies holding its flags, oldest first (docs/ladder.md §5); filled by the reads
    /// that show resources.
    pub restrictions: Vec<Restriction>,
}

/// A resource flag a policy action sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestrictedFlag {
    Paused,
    Downscaled,
    RestrictMemberAccess,
}

impl RestrictedFlag {
    pub const ALL: [RestrictedFlag; 3] = [Self::Paused, Self::Downscaled, Self::RestrictMemberAccess];

    /// The resource field, and the column, that holds the flag.
    pub fn name(self) -> &'static str {
        match self {
            Self::Paused => "paused",
            Self::Downscaled => "downscaled",
            Self::RestrictMemberAccess => "restrict_member_access",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A fired policy holding a flag of a resource since a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restriction {
    pub flag: RestrictedFlag,
    pub policy_uuid: Uuid32,
    pub since: Micros,
}

/// Which resources a list shows (besides what the caller may see); uuids are hex.
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    pub customer_uuid: Option<String>,
    pub project_uuid: Option<String>,
    pub offering_uuid: Option<String>,
    /// Any of these (none: any state).
    pub states: Vec<ResourceState>,
}

/// The fields a PATCH or PUT of a resource sent; a field left out keeps its value.
#[derive(Debug, Clone, Default)]
pub struct ResourcePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `Some(None)`: the client cleared the date.
    pub end_date: Option<Option<String>>,
}

impl ResourcePatch {
    /// Whether laying the patch over `r` would change it.
    pub fn changes(&self, r: &Resource) -> bool {
        self.name.as_ref().is_some_and(|v| *v != r.name)
            || self.description.as_ref().is_some_and(|v| *v != r.description)
            || self.end_date.as_ref().is_some_and(|v| *v != r.end_date)
    }

    pub fn apply(&self, r: &mut Resource) {
        for (given, slot) in [(&self.name, &mut r.name), (&self.description, &mut r.description)] {
            if let Some(v) = given {
                slot.clone_from(v);
            }
        }
        if let Some(v) = &self.end_date {
            r.end_date.clone_from(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource() -> Resource {
        Resource {
            id: 1,
            uuid: Uuid32::new_v4(),
            name: "vm".into(),
            description: "".into(),
            state: ResourceState::Ok,
            limits: "{}".into(),
            attributes: "{}".into(),
            backend_id: "".into(),
            end_date: Some("2030-01-01".into()),
            paused: false,
            downscaled: false,
            restrict_member_access: false,
            created: 0,
            modified: 0,
            project_id: 1,
            project_uuid: Uuid32::new_v4(),
            project_name: "p".into(),
            customer_id: 1,
            customer_uuid: Uuid32::new_v4(),
            customer_name: "c".into(),
            offering_id: 1,
            offering_uuid: Uuid32::new_v4(),
            offering_name: "o".into(),
            offering_type: "Marketplace.Basic".into(),
            offering_plugin_options: "{}".into(),
            provider_customer_id: 2,
            provider_uuid: Uuid32::new_v4(),
            provider_name: "pc".into(),
            plan_id: None,
            plan_uuid: None,
            plan_name: None,
            restrictions: Vec::new(),
        }
    }

    #[test]
    fn a_patch_changes_only_what_it_sends() {
        let mut r = resource();
        let same = ResourcePatch {
            name: Some("vm".into()),
            ..Default::default()
        };
        assert!(!same.changes(&r));
        let clear = ResourcePatch {
            end_date: Some(None),
            ..Default::default()
        };
        assert!(clear.changes(&r));
        clear.apply(&mut r);
        assert_eq!((r.name.as_str(), r.end_date), ("vm", None));
    }
}
