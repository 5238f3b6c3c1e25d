//! Customers (upstream's organisations): the fields a client sets, and a customer as a read
//! hands it from `store` through `service` to the API.

use super::time::Micros;
use super::Uuid32;

/// A customer's text fields, in the order of their columns and of the keys the API shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerText {
    Name,
    Slug,
    NativeName,
    Abbreviation,
    Description,
    ContactDetails,
    Email,
    PhoneNumber,
    RegistrationCode,
    AgreementNumber,
    BackendId,
    Domain,
    Homepage,
    Address,
    Postal,
    Country,
    VatCode,
    AccessSubnets,
}

const TEXT_COUNT: usize = 18;

impl CustomerText {
    pub const ALL: [CustomerText; TEXT_COUNT] = [
        CustomerText::Name,
        CustomerText::Slug,
        CustomerText::NativeName,
        CustomerText::Abbreviation,
        CustomerText::Description,
        CustomerText::ContactDetails,
        CustomerText::Email,
        CustomerText::PhoneNumber,
        CustomerText::RegistrationCode,
        CustomerText::AgreementNumber,
        CustomerText::BackendId,
        CustomerText::Domain,
        CustomerText::Homepage,
        CustomerText::Address,
        CustomerText::Postal,
        CustomerText::Country,
        CustomerText::VatCode,
        CustomerText::AccessSubnets,
    ];

    /// The field's key in the API, which is also its column's name.
    pub fn key(self) -> &'static str {
        match self {
            CustomerText::Name => "name",
            CustomerText::Slug => "slug",
            CustomerText::NativeName => "native_name",
            CustomerText::Abbreviation => "abbreviation",
            CustomerText::Description => "description",
            CustomerText::ContactDetails => "contact_details",
            CustomerText::Email => "email",
            CustomerText::PhoneNumber => "phone_number",
            CustomerText::RegistrationCode => "registration_code",
            CustomerText::AgreementNumber => "agreement_number",
            CustomerText::BackendId => "backend_id",
            CustomerText::Domain => "domain",
            CustomerText::Homepage => "homepage",
            CustomerText::Address => "address",
            CustomerText::Postal => "postal",
            CustomerText::Country => "country",
            CustomerText::VatCode => "vat_code",
            CustomerText::AccessSubnets => "access_subnets",
        }
    }
}

/// A customer's fields as a client sets them: every text field (empty when never set) and the
/// two flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFields {
    text: [String; TEXT_COUNT],
    pub blocked: bool,
    pub archived: bool,
}

impl CustomerFields {
    pub fn text(&self, field: CustomerText) -> &str {
        &self.text[field as usize]
    }

    pub fn set(&mut self, field: CustomerText, value: String) {
        self.text[field as usize] = value;
    }
}

/// The fields a request names, laid over the customer it changes.
#[derive(Debug, Clone, Default)]
pub struct CustomerPatch {
    text: Vec<(CustomerText, String)>,
    pub blocked: Option<bool>,
    pub archived: Option<bool>,
}

impl CustomerPatch {
    pub fn set(&mut self, field: CustomerText, value: String) {
        self.text.push((field, value));
    }

    pub fn apply(&self, fields: &mut CustomerFields) {
        for (field, value) in &self.text {
            fields.set(*field, value.clone());
        }
        fields.blocked = self.blocked.unwrap_or(fields.blocked);
        fields.archived = self.archived.unwrap_or(fields.archived);
    }
}

/// A customer as it is stored, with the counts the API shows.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: i64,
    pub uuid: Uuid32,
    pub created: Micros,
    pub fields: CustomerFields,
    /// Its projects that are not removed.
    pub projects_count: i64,
    /// The users holding an active role on it.
    pub users_count: i64,
    /// Set when the customer is registered as a service provider.
    pub service_provider_uuid: Option<Uuid32>,
}

impl Customer {
    /// Role changes need the customer available (upstream's "Customer is not available.").
    pub fn is_available(&self) -> bool {
        !self.fields.blocked && !self.fields.archived
    }
}

/// Which customers a list shows, besides what the caller may see: upstream's `name_exact` and
/// `name` (a case-insensitive substring); empty values filter nothing.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub name_exact: Option<String>,
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_field_has_its_own_slot_in_column_order() {
        let mut fields = CustomerFields::default();
        for (i, field) in CustomerText::ALL.into_iter().enumerate() {
            assert_eq!(field as usize, i);
            fields.set(field, field.key().to_string());
        }
        for field in CustomerText::ALL {
            assert_eq!(fields.text(field), field.key());
        }
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let mut fields = CustomerFields::default();
        fields.set(CustomerText::Name, "Acme".into());
        fields.blocked = true;
        let mut patch = CustomerPatch::default();
        patch.set(CustomerText::Email, "a@b.co".into());
        patch.archived = Some(true);
        patch.apply(&mut fields);
        assert_eq!(fields.text(CustomerText::Name), "Acme");
        assert_eq!(fields.text(CustomerText::Email), "a@b.co");
        assert!(fields.blocked && fields.archived);
    }
}
