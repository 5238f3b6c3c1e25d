//! Hostile inputs: data.
