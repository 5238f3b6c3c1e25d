//! `Authorization: Token <key>` (or `?x-auth-token=`), as Waldur's TokenAuthentication.

use super::errors::ApiError;
use super::AppState;
use crate::authz::Principal;
use crate::service::identity::hash_token;
use crate::service::users;
use crate::store::users::TokenOwner;
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
pub struct TokenCache(Arc<Mutex<HashMap<String, (TokenOwner, Instant)>>>);

impl TokenCache {
    const TTL: Duration = Duration::from_secs(5);
    const CAPACITY: usize = 10_000;

    fn get(&self, hash: &str) -> Option<TokenOwner> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(owner, _)| owner.clone())
    }

    fn put(&self, hash: String, owner: TokenOwner) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(hash, (owner, Instant::now()));
    }

    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
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
            uuid: owner.uuid,
            username: owner.username,
            is_staff: owner.is_staff != 0,
            is_support: owner.is_support != 0,
        }))
    }
}

/// The active owner of an unexpired token. A token expires after its owner's `token_lifetime`
/// (or the configured default) without use; a use is recorded at most once a minute, and only
/// then is the database asked again rather than the cache.
async fn owner_of(state: &AppState, hash: String) -> Result<TokenOwner, ApiError> {
    let now = state.clock.now_micros();
    let lifetime =
        |owner: &TokenOwner| owner.token_lifetime.unwrap_or(state.settings.token_lifetime_seconds) * 1_000_000;
    if let Some(owner) = state.tokens.get(&hash) {
        if now - owner.last_used < users::TOUCH_EVERY_MICROS {
            return active(owner);
        }
    }
    let mut owner = users::token_owner(&state.db, &hash)
        .await?
        .ok_or(ApiError::AuthenticationFailed("Invalid token."))?;
    if now > owner.last_used + lifetime(&owner) {
        return Err(ApiError::AuthenticationFailed("Token has expired."));
    }
    if now - owner.last_used >= users::TOUCH_EVERY_MICROS {
        // A failed write only shortens the token's life a little; the request goes on.
        match users::touch_token(&state.db, &hash, now).await {
            Ok(()) => owner.last_used = now,
            Err(err) => tracing::warn!(error = %err, "recording a token's use failed"),
        }
    }
    state.tokens.put(hash, owner.clone());
    active(owner)
}

fn active(owner: TokenOwner) -> Result<TokenOwner, ApiError> {
    if owner.is_active == 0 {
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
