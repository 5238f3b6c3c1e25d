//! Who may see and write what: the one place these rules live. Visibility is expressed as SQL
//! predicates so that list queries filter in the database, not after loading.

use crate::domain::{CustomerRole, ProjectRole, Role};
use crate::store::{self, roles::ScopeType};
use sqlx::AnyPool;

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

/// SQL predicates over a customer-id or project-id expression. `u` and `n` are the placeholders
/// bound to the user id and the current time.
pub mod sql {
    use super::Visibility;

    fn active(u: &str, n: &str) -> String {
        format!("r.user_id = {u} AND r.is_active = 1 AND (r.expiration_time IS NULL OR r.expiration_time > {n})")
    }

    /// Everything for `Visibility::All`, so the planner is free to use any index; otherwise the
    /// restricted predicate, kept free of `OR` for the same reason. (Both drivers accept binds
    /// a statement does not reference, so callers bind the user and time either way.)
    fn gate(vis: Visibility, restricted: String) -> String {
        match vis {
            Visibility::All => "TRUE".to_string(),
            Visibility::Roles { .. } => restricted,
        }
    }

    /// Customers where the user holds a customer-level role (policies, events).
    pub fn customer_role(vis: Visibility, customer_id: &str, u: &str, n: &str) -> String {
        let restricted = format!(
            "{customer_id} IN (SELECT r.scope_id FROM user_roles r WHERE r.scope_type = 'customer' AND {})",
            active(u, n)
        );
        gate(vis, restricted)
    }

    /// Customers where the user holds a customer role or a role in one of its projects.
    pub fn customer_member(vis: Visibility, customer_id: &str, u: &str, n: &str) -> String {
        let restricted = format!(
            "({customer_id} IN (SELECT r.scope_id FROM user_roles r WHERE r.scope_type = 'customer' AND {a}) \
             OR {customer_id} IN (SELECT p.customer_id FROM user_roles r JOIN projects p \
             ON p.id = r.scope_id WHERE r.scope_type = 'project' AND p.is_removed = 0 AND {a}))",
            a = active(u, n)
        );
        gate(vis, restricted)
    }

    /// Projects where the user holds a project role or a role on the project's customer.
    pub fn project_member(vis: Visibility, project_id: &str, customer_id: &str, u: &str, n: &str) -> String {
        let restricted = format!(
            "({project_id} IN (SELECT r.scope_id FROM user_roles r WHERE r.scope_type = 'project' AND {a}) \
             OR {customer_id} IN (SELECT r.scope_id FROM user_roles r WHERE r.scope_type = 'customer' AND {a}))",
            a = active(u, n)
        );
        gate(vis, restricted)
    }
}

/// The caller's active roles on a customer, and on a project (when given).
pub struct Roles {
    pub customer: Vec<CustomerRole>,
    pub project: Vec<ProjectRole>,
}

impl Roles {
    pub async fn load(
        pool: &AnyPool,
        principal: &Principal,
        customer_id: i64,
        project_id: Option<i64>,
        now: i64,
    ) -> store::Result<Self> {
        let mut roles = Roles {
            customer: vec![],
            project: vec![],
        };
        for name in store::roles::active_names(pool, principal.id, ScopeType::Customer, customer_id, now).await? {
            if let Some(Role::Customer(r)) = Role::parse(&name) {
                roles.customer.push(r);
            }
        }
        if let Some(project_id) = project_id {
            for name in store::roles::active_names(pool, principal.id, ScopeType::Project, project_id, now).await? {
                if let Some(Role::Project(r)) = Role::parse(&name) {
                    roles.project.push(r);
                }
            }
        }
        Ok(roles)
    }

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

    /// May edit the project or manage roles in it.
    pub fn manages_project(&self) -> bool {
        self.is_owner() || self.project.contains(&ProjectRole::Admin) || self.project.contains(&ProjectRole::Manager)
    }
}
