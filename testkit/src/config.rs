//! Configuration variables as `Config::from_vars` reads them.

use std::collections::HashMap;

/// `pairs` as the variable map `shared::Config::from_vars` takes.
pub fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A bucket and table name of its own, so tests and runs stay independent.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..20]
    )
}
