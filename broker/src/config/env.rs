//! The `SILT_<SECTION>_<KEY>` environment layer of the configuration. Unknown `SILT_`
//! variables are errors (a typo must not be silently ignored), except the few that are not
//! config keys and every `SILT_TEST_*` (the test suite's).

use super::ConfigError;

/// Environment variables starting with `SILT_` that are not config keys (as are all
/// `SILT_TEST_*`, which belong to the test suite).
const NON_CONFIG_VARS: &[&str] = &[
    "SILT_CONFIG",
    "SILT_BROKER",
    "SILT_LOG",
    "SILT_FAILPOINTS",
    "SILT_BIN",
    // Short forms of the three `silt dev` flags, read by the command line parser.
    "SILT_DATA_DIR",
    "SILT_LISTEN",
    "SILT_OBJECT_STORE",
    // `silt broker`'s --metadata and --cache-dir, read by the command line parser (the
    // loader refused them, so the broker could not be configured by environment alone).
    "SILT_METADATA",
    "SILT_CACHE_DIR",
];

/// Applies every config variable of `env` to `table`, in name order.
pub(super) fn apply_all(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with("SILT_")
                && !k.starts_with("SILT_TEST_")
                && !NON_CONFIG_VARS.contains(&k.as_str())
        })
        .collect();
    env.sort();
    for (name, value) in env {
        apply_env(table, &name, &value)?;
    }
    Ok(())
}

/// Sets `section.key` from `SILT_SECTION_KEY`.
fn apply_env(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let rest = name.trim_start_matches("SILT_").to_ascii_lowercase();
    let sections = ["server", "storage", "wal", "cache", "cluster"];
    let Some((section, key)) = sections.iter().find_map(|section| {
        rest.strip_prefix(section)
            .and_then(|k| k.strip_prefix('_'))
            .map(|key| (*section, key.to_owned()))
    }) else {
        return Err(ConfigError(format!(
            "unknown environment variable {name}: config variables are SILT_<SECTION>_<KEY> with a section of {}",
            sections.join(", ")
        )));
    };
    let parsed = match (value.parse::<i64>(), value.parse::<bool>()) {
        (Ok(n), _) => toml::Value::Integer(n),
        (_, Ok(b)) => toml::Value::Boolean(b),
        _ => toml::Value::String(value.to_owned()),
    };
    let entry = table
        .entry(section.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(section_table) => {
            section_table.insert(key, parsed);
            Ok(())
        }
        _ => Err(ConfigError(format!("{section} must be a table"))),
    }
}
