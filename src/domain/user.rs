//! Users: the fields a client sets, a user as a read returns it, and the owner of a token.

use super::time::Micros;
use super::Uuid32;

/// Everything a client may set on a user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFields {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub native_name: String,
    pub organization: String,
    pub job_title: String,
    pub phone_number: String,
    pub description: String,
    pub is_staff: bool,
    pub is_support: bool,
    pub is_active: bool,
    /// Seconds a token lives without use; `None`: the configured default.
    pub token_lifetime: Option<i64>,
}

impl UserFields {
    pub fn full_name(&self) -> String {
        full_name(&self.first_name, &self.last_name)
    }
}

/// Django's `get_full_name()`: first and last name, trimmed.
pub fn full_name(first_name: &str, last_name: &str) -> String {
    format!("{first_name} {last_name}").trim().to_string()
}

/// What a user update sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub username: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub native_name: Option<String>,
    pub organization: Option<String>,
    pub job_title: Option<String>,
    pub phone_number: Option<String>,
    pub description: Option<String>,
    pub is_staff: Option<bool>,
    pub is_support: Option<bool>,
    pub is_active: Option<bool>,
    pub token_lifetime: Option<Option<i64>>,
}

impl UserPatch {
    /// `base` with the fields this patch sets replaced.
    pub fn over(self, base: UserFields) -> UserFields {
        UserFields {
            username: self.username.unwrap_or(base.username),
            email: self.email.unwrap_or(base.email),
            first_name: self.first_name.unwrap_or(base.first_name),
            last_name: self.last_name.unwrap_or(base.last_name),
            native_name: self.native_name.unwrap_or(base.native_name),
            organization: self.organization.unwrap_or(base.organization),
            job_title: self.job_title.unwrap_or(base.job_title),
            phone_number: self.phone_number.unwrap_or(base.phone_number),
            description: self.description.unwrap_or(base.description),
            is_staff: self.is_staff.unwrap_or(base.is_staff),
            is_support: self.is_support.unwrap_or(base.is_support),
            is_active: self.is_active.unwrap_or(base.is_active),
            token_lifetime: self.token_lifetime.unwrap_or(base.token_lifetime),
        }
    }
}

/// A user as it is stored (never the built-in system user).
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub uuid: Uuid32,
    pub date_joined: Micros,
    pub fields: UserFields,
}

/// The user behind a token, with when the token was last used, for its lifetime.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    pub id: i64,
    pub uuid: Uuid32,
    pub username: String,
    pub is_staff: bool,
    pub is_support: bool,
    pub is_active: bool,
    /// Seconds the token lives without use; `None`: the configured default.
    pub token_lifetime: Option<i64>,
    pub last_used: Micros,
}
