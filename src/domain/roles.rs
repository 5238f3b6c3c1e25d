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
