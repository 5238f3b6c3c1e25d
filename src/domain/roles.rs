use super::time::Micros;
use super::Uuid32;

/// A role a user holds on a customer or a project. Stored and sent by upstream's system role names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Customer(CustomerRole),
    Project(ProjectRole),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerRole {
    Owner,
    Manager,
    Support,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectRole {
    Admin,
    Manager,
    Member,
}

impl Role {
    const ALL: [Role; 6] = [
        Role::Customer(CustomerRole::Owner),
        Role::Customer(CustomerRole::Manager),
        Role::Customer(CustomerRole::Support),
        Role::Project(ProjectRole::Admin),
        Role::Project(ProjectRole::Manager),
        Role::Project(ProjectRole::Member),
    ];

    pub fn parse(name: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Customer(CustomerRole::Owner) => "CUSTOMER.OWNER",
            Role::Customer(CustomerRole::Manager) => "CUSTOMER.MANAGER",
            Role::Customer(CustomerRole::Support) => "CUSTOMER.SUPPORT",
            Role::Project(ProjectRole::Admin) => "PROJECT.ADMIN",
            Role::Project(ProjectRole::Manager) => "PROJECT.MANAGER",
            Role::Project(ProjectRole::Member) => "PROJECT.MEMBER",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Role::Customer(CustomerRole::Owner) => "Customer owner",
            Role::Customer(CustomerRole::Manager) => "Customer service manager",
            Role::Customer(CustomerRole::Support) => "Customer support",
            Role::Project(ProjectRole::Admin) => "Project administrator",
            Role::Project(ProjectRole::Manager) => "Project manager",
            Role::Project(ProjectRole::Member) => "Project member",
        }
    }
}

/// What a role is held on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeType {
    Customer,
    Project,
}

impl ScopeType {
    /// The name stored in `user_roles.scope_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeType::Customer => "customer",
            ScopeType::Project => "project",
        }
    }

    /// Whether `role` is one held on this kind of scope.
    pub fn fits(self, role: Role) -> bool {
        matches!(
            (self, role),
            (ScopeType::Customer, Role::Customer(_)) | (ScopeType::Project, Role::Project(_))
        )
    }
}

/// An active grant of a role on a scope, as `list_users/` shows it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub uuid: Uuid32,
    pub role: Role,
    pub created: Micros,
    pub expiration_time: Option<Micros>,
    pub user: GrantUser,
    /// `None` once the user who granted it is deleted.
    pub created_by: Option<GrantAuthor>,
}

/// The user a grant is for.
#[derive(Debug, Clone)]
pub struct GrantUser {
    pub uuid: Uuid32,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// The user who made a grant.
#[derive(Debug, Clone)]
pub struct GrantAuthor {
    pub uuid: Uuid32,
    pub first_name: String,
    pub last_name: String,
}
