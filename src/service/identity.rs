//! Passwords and tokens.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use tokio::sync::Semaphore;

/// Argon2 is meant to be slow (tens of milliseconds of CPU): it runs on blocking threads, on all
/// cores but one at most, so logins never stall the async workers that serve everything else
/// (a flood of logins queues here, and the spare core keeps answering), and the blocking pool
/// does not grow a thread per waiting login.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Semaphore::new(cores.saturating_sub(1).max(1))
});

async fn off_the_workers<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let _permit = HASHING.acquire().await?;
    Ok(tokio::task::spawn_blocking(work).await?)
}

pub async fn hash_password(password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    off_the_workers(move || hash_password_now(&password)).await?
}

fn hash_password_now(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// Checks a password against a stored hash; with no hash (an unknown or passwordless user) it
/// checks against a dummy one and fails, taking as long as a real check, so the answer's timing
/// does not tell which usernames exist.
pub async fn verify_password(password: &str, hash: Option<String>) -> anyhow::Result<bool> {
    let password = password.to_owned();
    off_the_workers(move || match hash {
        Some(hash) => verify_password_now(&password, &hash),
        None => {
            verify_password_now(&password, &DUMMY_HASH);
            false
        }
    })
    .await
}

static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_password_now(&new_token()).unwrap_or_default());

fn verify_password_now(password: &str, hash: &str) -> bool {
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

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("s3cret").await.unwrap();
        assert!(verify_password("s3cret", Some(hash.clone())).await.unwrap());
        assert!(!verify_password("other", Some(hash)).await.unwrap());
        assert!(!verify_password("s3cret", Some("garbage".into())).await.unwrap());
        assert!(!verify_password("s3cret", None).await.unwrap());
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2_hash() {
        // Were it unparsable, checking against it would return at once and unknown usernames
        // would answer faster than known ones.
        assert!(PasswordHash::new(&DUMMY_HASH).is_ok());
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
