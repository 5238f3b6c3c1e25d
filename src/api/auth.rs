//! `Authorization: Token <key>` (or `?x-auth-token=`), as Waldur's TokenAuthentication.

use super::errors::ApiError;
use super::AppState;
use crate::authz::Principal;
use crate::domain::user::TokenOwner;
use crate::service::identity::hash_token;
use crate::service::users::{self, TokenRefused};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Recently seen token owners. Every request needs its caller, and a lookup per request costs
/// more than the rest of a small read; entries live a few seconds, and this instance forgets
/// them all whenever a user or its tokens change, so a change (a revocation) takes effect here
/// at once and on other instances within the TTL.
#[derive(Clone, Default)]
pub struct TokenCache(Arc<Mutex<Entries>>);

/// The cached owners, and how many times they were all forgotten: a lookup that read the
/// database before a change committed must not put what it read back after the change's
/// `clear()`, or a revoked token would keep working here for the TTL.
#[derive(Default)]
struct Entries {
    owners: HashMap<String, (TokenOwner, Instant)>,
    generation: u64,
}

impl TokenCache {
    const TTL: Duration = Duration::from_secs(5);
    const CAPACITY: usize = 10_000;

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, hash: &str) -> Option<TokenOwner> {
        self.entries()
            .owners
            .get(hash)
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(owner, _)| owner.clone())
    }

    /// Taken before reading an owner from the database, and handed back to `put`.
    fn generation(&self) -> u64 {
        self.entries().generation
    }

    /// Keeps `owner` unless the cache was cleared since `generation` was taken: what was read
    /// then may be what the clearing change revoked.
    fn put(&self, hash: String, owner: TokenOwner, generation: u64) {
        let mut entries = self.entries();
        if entries.generation != generation {
            return;
        }
        if entries.owners.len() >= Self::CAPACITY {
            entries.owners.clear();
        }
        entries.owners.insert(hash, (owner, Instant::now()));
    }

    pub fn clear(&self) {
        let mut entries = self.entries();
        entries.owners.clear();
        entries.generation = entries.generation.wrapping_add(1);
    }
}

/// The authenticated caller; extracting it refuses anonymous requests with 401.
pub struct CurrentUser(pub Principal);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = token_from(parts)?.ok_or(ApiError::NotAuthenticated)?;
        let owner = owner_of(state, hash_token(&key)).await?;
        Ok(Self(Principal {
            id: owner.id,
            uuid: owner.uuid.to_string(),
            username: owner.username,
            is_staff: owner.is_staff,
            is_support: owner.is_support,
        }))
    }
}

/// The active owner of an unexpired token. A token expires after its owner's `token_lifetime`
/// (or the configured default) without use; a use is recorded at most once a minute, and only
/// then is the database asked again rather than the cache.
async fn owner_of(state: &AppState, hash: String) -> Result<TokenOwner, ApiError> {
    let now = state.clock.now_micros();
    if let Some(owner) = state.tokens.get(&hash) {
        if now - owner.last_used < users::TOUCH_EVERY_MICROS {
            return active(owner);
        }
    }
    let generation = state.tokens.generation();
    let owner = users::token_owner(&state.db, &hash, state.settings.token_lifetime_seconds, now)
        .await?
        .map_err(|refused| {
            ApiError::AuthenticationFailed(match refused {
                TokenRefused::Invalid => "Invalid token.",
                TokenRefused::Expired => "Token has expired.",
            })
        })?;
    state.tokens.put(hash, owner.clone(), generation);
    active(owner)
}

fn active(owner: TokenOwner) -> Result<TokenOwner, ApiError> {
    if !owner.is_active {
        return Err(ApiError::AuthenticationFailed("User inactive or deleted."));
    }
    Ok(owner)
}

/// The hash of the token the request came with, for actions that treat the caller's own token
/// apart (a password change keeps it). Extract it after `CurrentUser`, which checks the token.
pub struct CallerToken(pub String);

impl FromRequestParts<AppState> for CallerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let key = token_from(parts)?.ok_or(ApiError::NotAuthenticated)?;
        Ok(Self(hash_token(&key)))
    }
}

fn token_from(parts: &Parts) -> Result<Option<String>, ApiError> {
    if let Some(header) = parts.headers.get(AUTHORIZATION) {
        let header = header.to_str().map_err(|_| {
            ApiError::AuthenticationFailed("Invalid token header. Token string should not contain invalid characters.")
        })?;
        let mut words = header.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("token")) {
            return Ok(query_token(parts));
        }
        return match (words.next(), words.next()) {
            (Some(key), None) => Ok(Some(key.to_string())),
            (None, _) => Err(ApiError::AuthenticationFailed(
                "Invalid token header. No credentials provided.",
            )),
            (Some(_), Some(_)) => Err(ApiError::AuthenticationFailed(
                "Invalid token header. Token string should not contain spaces.",
            )),
        };
    }
    Ok(query_token(parts))
}

fn query_token(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "x-auth-token")
        .map(|(_, v)| v.into_owned())
}

/// A staff caller. Extracted before the body, so non-staff get 403 whatever they sent and
/// whatever object they named, as upstream's view-level permission checks.
pub struct Staff(pub Principal);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        if user.is_staff {
            Ok(Self(user))
        } else {
            Err(ApiError::PermissionDenied)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(id: i64) -> TokenOwner {
        TokenOwner {
            id,
            uuid: crate::domain::Uuid32::new_v4(),
            username: format!("user{id}"),
            is_staff: false,
            is_support: false,
            is_active: true,
            token_lifetime: None,
            last_used: 0,
        }
    }

    #[test]
    fn an_owner_read_before_a_clear_is_not_cached_after_it() {
        let cache = TokenCache::default();
        let before = cache.generation();
        // A password change commits and clears while the lookup was reading the database.
        cache.clear();
        cache.put("hash".into(), owner(1), before);
        assert!(cache.get("hash").is_none());
    }

    #[test]
    fn an_owner_read_since_the_last_clear_is_cached() {
        let cache = TokenCache::default();
        cache.clear();
        let now = cache.generation();
        cache.put("hash".into(), owner(1), now);
        assert_eq!(cache.get("hash").map(|o| o.id), Some(1));
        cache.clear();
        assert!(cache.get("hash").is_none());
    }
}
