//! Hostile inputs: identity.
