//! `sqlx::migrate!` embeds the migration files at compile time, but cargo does not know they are
//! inputs: a new migration alone would not rebuild the binary that must run it.
fn main() {
    for dir in ["migrations_events", "migrations_projections", "migrations_analytics", "migrations_auth"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
