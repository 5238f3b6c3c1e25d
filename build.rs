// `sqlx::migrate!` embeds the migrations when the crate compiles; without this, cargo would not
// know that a file added to migrations/ changes the build, and an incremental build would keep
// the old set.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
