//! The `SILT_<SECTION>_<KEY>` environment layer of the configuration. Unknown `SILT_`
//! variables are errors (a typo must not be silently ignored), except the few that are not
//! config keys and those of silt's other tools ([`TOOL_PREFIXES`]: the test suite, the load
//! generator, the benchmarks, the fault runner), which a shell running them passes on to
//! every `silt` they start.

use super::ConfigError;

/// Environment variables starting with `SILT_` that are not config keys (besides the
/// tools' [`TOOL_PREFIXES`]).
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
    // `--insecure`, `--token` and `--ca-file`, read by the command line parser.
    "SILT_INSECURE",
    "SILT_TOKEN",
    "SILT_CA_FILE",
];

/// Prefixes of the variables of silt's other tools: never config keys (no config section
/// is named `test`, `loadgen`, `bench`, `fault`, `faults` or `pipeline`).
const TOOL_PREFIXES: &[&str] = &[
    "SILT_TEST_",
    "SILT_LOADGEN_",
    "SILT_BENCH_",
    "SILT_FAULT_",
    "SILT_FAULTS_",
    "SILT_PIPELINE_",
];

/// Applies every config variable of `env` to `table`, in name order.
pub(super) fn apply_all(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut env: Vec<(String, String)> = env.into_iter().filter(|(k, _)| is_config(k)).collect();
    env.sort();
    for (name, value) in env {
        apply_env(table, &name, &value)?;
    }
    Ok(())
}

/// Whether an environment variable is a config key: `SILT_*` but not one of
/// [`NON_CONFIG_VARS`] nor a tool's ([`TOOL_PREFIXES`]).
fn is_config(name: &str) -> bool {
    name.starts_with("SILT_")
        && !NON_CONFIG_VARS.contains(&name)
        && !TOOL_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// The config sections, as they appear in variable names.
const SECTIONS: [&str; 12] = [
    "server",
    "storage",
    "wal",
    "cache",
    "cluster",
    "auth",
    "groups",
    "retention",
    "metrics",
    "metadata",
    "gc",
    "backup",
];

/// Sets `section.key` from `SILT_SECTION_KEY`.
fn apply_env(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let (section, key) = section_and_key(name)?;
    insert(table, section, key, parse_value(value))
}

/// `SILT_SECTION_KEY` as `("section", "key")`; refuses a variable naming no section.
fn section_and_key(name: &str) -> Result<(&'static str, String), ConfigError> {
    let rest = name.trim_start_matches("SILT_").to_ascii_lowercase();
    let found = SECTIONS.iter().find_map(|section| {
        rest.strip_prefix(section)
            .and_then(|k| k.strip_prefix('_'))
            .map(|key| (*section, key.to_owned()))
    });
    found.ok_or_else(|| ConfigError(format!(
        "unknown environment variable {name}: config variables are SILT_<SECTION>_<KEY> with a section of {}",
        SECTIONS.join(", ")
    )))
}

/// A variable's value as TOML: an integer, a boolean, else a string.
fn parse_value(value: &str) -> toml::Value {
    match (value.parse::<i64>(), value.parse::<bool>()) {
        (Ok(n), _) => toml::Value::Integer(n),
        (_, Ok(b)) => toml::Value::Boolean(b),
        _ => toml::Value::String(value.to_owned()),
    }
}

/// Sets `section.key` in `table`, creating the section.
fn insert(
    table: &mut toml::Table,
    section: &str,
    key: String,
    parsed: toml::Value,
) -> Result<(), ConfigError> {
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
