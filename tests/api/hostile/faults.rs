//! Hostile inputs: faults.
