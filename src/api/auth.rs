//! `Authorization: Token <key>` (or `?x-auth-token=`), as Waldur's TokenAuthentication.

use super::errors::ApiError;
use super::AppState;
use crate::authz::Principal;
use crate::service::identity::hash_token;
use crate::store::{self, users::TokenOwner};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Recently seen token owners. Every request needs its caller, and a lookup per request costs
/// more than the rest of a small read; entries live a few seconds, and this instance forgets
/// them all whenever a user changes, so a change made elsewhere shows within the TTL.
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
        let hash = hash_token(&key);
        let owner = match state.tokens.get(&hash) {
            Some(owner) => owner,
            None => {
                let owner = store::users::by_token_hash(state.db.reader(), &hash)
                    .await?
                    .ok_or(ApiError::AuthenticationFailed("Invalid token."))?;
                state.tokens.put(hash, owner.clone());
                owner
            }
        };
        if owner.is_active == 0 {
            return Err(ApiError::AuthenticationFailed("User inactive or deleted."));
        }
        if let Some(lifetime) = owner.token_lifetime {
            if state.clock.now_micros() > owner.token_created + lifetime * 1_000_000 {
                return Err(ApiError::AuthenticationFailed("Token has expired."));
            }
        }
        Ok(Self(Principal {
            id: owner.id,
            uuid: owner.uuid,
            username: owner.username,
            is_staff: owner.is_staff != 0,
            is_support: owner.is_support != 0,
        }))
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
