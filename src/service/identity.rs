//! Passwords and tokens.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// Only a hash of a token is stored; a leaked database does not leak credentials.
pub fn hash_token(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new 40-hex-character token key.
pub fn new_token() -> String {
    let bytes: [u8; 20] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("s3cret").unwrap();
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("other", &hash));
        assert!(!verify_password("s3cret", "garbage"));
    }

    #[test]
    fn tokens_are_40_hex_and_hashes_differ_from_keys() {
        let t = new_token();
        assert_eq!(t.len(), 40);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(hash_token(&t), t);
        assert_eq!(hash_token(&t), hash_token(&t));
    }
}
