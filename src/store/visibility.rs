//! `Visibility` as SQL: predicates over a customer-id or project-id expression, so that list
//! queries filter in the database, not after loading. `u` and `n` are the placeholders bound to
//! the user id and the current time.

use crate::authz::Visibility;

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

/// A resource's usage (its rows, its per-user shares, its report log): the consumer's project
/// and customer roles, and the offering's provider customer roles.
pub fn resource_usage(
    vis: Visibility,
    project_id: &str,
    customer_id: &str,
    provider_id: &str,
    u: &str,
    n: &str,
) -> String {
    format!(
        "({} OR {})",
        project_member(vis, project_id, customer_id, u, n),
        customer_role(vis, provider_id, u, n)
    )
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
