//! Black-box API tests: each runs against a real server, once on SQLite and once on PostgreSQL.

mod helpers;

mod actions;
mod bad_input;
mod dry_run;
mod fixtures;
mod grants;
mod hostile;
mod identity;
mod ladder;
mod operations;
mod orders;
mod permissions;
mod policies;
mod policy_batches;
mod report_log;
#[path = "../common/sinks.rs"]
mod sinks;
mod site_agent;
mod structure;
mod usage;
