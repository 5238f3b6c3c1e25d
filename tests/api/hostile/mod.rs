//! The hostile-input suite: what a customer, a provider, an anonymous client or a fault does to
//! try to stop enforcement, each run on SQLite and PostgreSQL. One file per front: the HTTP edge,
//! faults inside the service, identity (logins, tokens, roles), and the data clients may write.

mod data;
mod faults;
mod http;
mod identity;
