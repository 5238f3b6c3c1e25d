//! Plain types that cannot exist invalid. Nothing here knows about HTTP or SQL.

pub mod actions;
pub mod amount;
pub mod billing;
pub mod catalog;
pub mod category;
pub mod customer;
pub mod email;
pub mod evaluation;
pub mod event;
pub mod ids;
pub mod limits;
pub mod marketplace;
pub mod month;
pub mod offering;
pub mod options;
pub mod order;
pub mod page;
pub mod period;
pub mod policy;
pub mod project;
pub mod resource;
pub mod roles;
pub mod service_provider;
pub mod slug;
pub mod time;
pub mod usage;
pub mod user;

pub use actions::{Action, ActionSet};
pub use amount::Amount;
pub use billing::BillingType;
pub use catalog::{OfferingState, UnitPrice};
pub use ids::Uuid32;
pub use limits::ResourceLimits;
pub use month::Month;
pub use period::Period;
pub use roles::{CustomerRole, ProjectRole, Role};
