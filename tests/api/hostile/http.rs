//! Hostile inputs: http.
