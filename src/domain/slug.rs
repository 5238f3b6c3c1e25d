//! The slugs of customers and projects, as upstream makes them (docs/api.md §3): the name's slug
//! cut to eight characters, then one past the highest number that the slugs starting with those
//! characters end in (`acme-cor-1`, `acme-cor-2`, ...). A slug is made when a customer or project
//! is created without one, or saved with an empty one; a rename keeps it.

use super::catalog::slugify;

/// Upstream's `SlugField`: at most 50 characters.
pub const MAX_LEN: usize = 50;

/// Django's `validate_slug` message.
pub const INVALID: &str = "Enter a valid \u{201c}slug\u{201d} consisting of letters, numbers, underscores or hyphens.";

/// How many characters of the name's slug a made slug starts with.
const STEM_LEN: usize = 8;

/// The start of the slug made for `name`: its slug's first eight characters, cut as they come
/// (a cut may end in a hyphen, as upstream's does).
pub fn stem(name: &str) -> String {
    slugify(name, usize::MAX).chars().take(STEM_LEN).collect()
}

/// The slug made from `stem`, given the slugs already starting with it: one past the highest
/// number after their last hyphen (slugs ending otherwise count for nothing).
pub fn next<'a>(stem: &str, taken: impl IntoIterator<Item = &'a str>) -> String {
    let highest = taken
        .into_iter()
        .filter_map(|slug| slug.rsplit('-').next()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    format!("{stem}-{}", highest.saturating_add(1))
}

/// Whether a client's slug has the characters a slug may have (its length is checked as text's).
pub fn is_valid(slug: &str) -> bool {
    slug.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_the_first_eight_characters_of_the_names_slug() {
        assert_eq!(stem("Acme Corporation"), "acme-cor");
        assert_eq!(stem("Big  Data -- Lab"), "big-data");
        assert_eq!(stem("abcdefg hij"), "abcdefg-");
        assert_eq!(stem("Lab"), "lab");
        assert_eq!(stem("!!!"), "");
    }

    #[test]
    fn the_number_follows_the_highest_taken() {
        assert_eq!(next("acme-cor", []), "acme-cor-1");
        assert_eq!(
            next("acme-cor", ["acme-cor-1", "acme-cor-7", "acme-cor-x"]),
            "acme-cor-8"
        );
        assert_eq!(next("lab", ["lab", "labrador"]), "lab-1");
        assert_eq!(next("", ["a-2", "b-5"]), "-6");
    }

    #[test]
    fn client_slugs_take_letters_digits_hyphens_and_underscores() {
        assert!(is_valid("My_slug-2"));
        assert!(!is_valid("my slug"));
        assert!(!is_valid("sl\u{fc}g"));
    }
}
