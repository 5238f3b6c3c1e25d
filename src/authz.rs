//! Who may see and write what: the one place these rules live, as pure decisions over the
//! caller and the roles `store::roles::load` read for them. Lists filter in the database through
//! `store::visibility`, which turns a `Visibility` into SQL.

use crate::domain::{CustomerRole, ProjectRole};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub id: i64,
    pub uuid: String,
    pub username: String,
    pub is_staff: bool,
    pub is_support: bool,
}

impl Principal {
    /// Staff and global support see every row.
    pub fn sees_everything(&self) -> bool {
        self.is_staff || self.is_support
    }
}

/// Which rows a list may contain for a caller.
#[derive(Debug, Clone, Copy)]
pub enum Visibility {
    All,
    /// Rows reachable through the user's active roles at `now`.
    Roles {
        user_id: i64,
        now: i64,
    },
}

impl Visibility {
    pub fn of(principal: &Principal, now: i64) -> Self {
        if principal.sees_everything() {
            Visibility::All
        } else {
            Visibility::Roles {
                user_id: principal.id,
                now,
            }
        }
    }

    /// The two bind values every predicate below uses, as `$user` and `$now`.
    pub fn binds(&self) -> (Option<i64>, i64) {
        match self {
            Visibility::All => (None, 0),
            Visibility::Roles { user_id, now } => (Some(*user_id), *now),
        }
    }
}

/// The caller's active roles on a customer, and on a project (when given).
#[derive(Debug, Default)]
pub struct Roles {
    pub customer: Vec<CustomerRole>,
    pub project: Vec<ProjectRole>,
}

impl Roles {
    pub fn is_owner(&self) -> bool {
        self.customer.contains(&CustomerRole::Owner)
    }

    pub fn has_customer_role(&self) -> bool {
        !self.customer.is_empty()
    }

    pub fn has_any(&self) -> bool {
        !self.customer.is_empty() || !self.project.is_empty()
    }

    /// Provider-side staff of a service provider customer: may report usage, manage offerings.
    pub fn is_provider_manager(&self) -> bool {
        self.customer.contains(&CustomerRole::Owner) || self.customer.contains(&CustomerRole::Manager)
    }

    /// May edit the project, manage roles in it, order in it and approve its orders.
    pub fn manages_project(&self) -> bool {
        self.is_owner() || self.project.contains(&ProjectRole::Admin) || self.project.contains(&ProjectRole::Manager)
    }
}

/// May order in, and approve for, a project: staff, or the roles `Roles::manages_project` names.
pub fn may_manage_consumer(principal: &Principal, roles: &Roles) -> bool {
    principal.is_staff || roles.manages_project()
}

/// Acts for a provider: staff, or the provider customer's owners and managers.
pub fn may_act_for_provider(principal: &Principal, roles: &Roles) -> bool {
    principal.is_staff || roles.is_provider_manager()
}

/// Registers a customer as a service provider: staff, or the customer's owners.
pub fn may_register_provider(principal: &Principal, roles: &Roles) -> bool {
    principal.is_staff || roles.is_owner()
}
