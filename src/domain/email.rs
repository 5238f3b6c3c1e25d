//! One email address, parsed strictly: the rules of the mail library that sends to it (RFC 5322
//! local part, a valid domain), and a domain with a dot, as Django's validator asks. A field holds
//! one address, so `a@b.c,d@e.f` (which a looser check took for one address at the domain
//! `b.c,d@e.f`) is refused.

use std::str::FromStr;

pub const INVALID: &str = "Enter a valid email address.";

/// Whether `s` is exactly one deliverable address.
pub fn is_valid(s: &str) -> bool {
    let Ok(address) = lettre::Address::from_str(s) else {
        return false;
    };
    let domain = address.domain();
    // An IP literal (`[192.0.2.1]`) has no name to need a dot.
    domain.starts_with('[') || (domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_only() {
        for ok in [
            "a@b.co",
            "first.last+tag@mail.example.org",
            "x_y-z@sub-domain.example.com",
        ] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in [
            "a@b.c,d@e.f",
            "a@b.c, d@e.f",
            "a@b.c;d@e.f",
            "a@b.c d@e.f",
            "Name <a@b.co>",
            "a@localhost",
            "a@.example.org",
            "a@example.org.",
            "@example.org",
            "a@",
            "a",
            "a@b@c.org",
            " a@b.co",
            "a\0@b.co",
            "",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
