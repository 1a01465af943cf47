//! Sizes (`8MiB`, `512KiB`, `1GB`, plain bytes) and durations (`5ms`, `2s`, `1m`, plain
//! milliseconds) as the configuration writes them, and their serde adapters.

use std::time::Duration;

/// Splits `"8MiB"` into `(8, "mib")`; `example` goes into the error message.
fn number_and_unit(text: &str, example: &str) -> Result<(u64, String), String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit());
    let (number, unit) = text.split_at(digits.unwrap_or(text.len()));
    let number = number
        .parse()
        .map_err(|_| format!("{text:?} is not {example}"))?;
    Ok((number, unit.trim().to_ascii_lowercase()))
}

/// Parses `8MiB`, `512KiB`, `1GB`, `100` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = number_and_unit(text, "a size such as 8MiB or 1048576")?;
    let factor =
        size_factor(&unit).ok_or_else(|| format!("unknown size unit {unit:?} in {text:?}"))?;
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Bytes per `unit` (lower case; empty means bytes).
fn size_factor(unit: &str) -> Option<u64> {
    match unit {
        "" | "b" => Some(1),
        "k" | "kb" => Some(1_000),
        "kib" => Some(1 << 10),
        "m" | "mb" => Some(1_000_000),
        "mib" => Some(1 << 20),
        "g" | "gb" => Some(1_000_000_000),
        "gib" => Some(1 << 30),
        _ => None,
    }
}

/// Parses `5ms`, `2s`, `1m`, `1h`, `7d`, `100` (milliseconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = number_and_unit(text, "a duration such as 5ms or 2s")?;
    match unit.as_str() {
        "" | "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(number.saturating_mul(60 * 60))),
        "d" => Ok(Duration::from_secs(number.saturating_mul(24 * 60 * 60))),
        "us" => Ok(Duration::from_micros(number)),
        other => Err(format!("unknown duration unit {other:?} in {text:?}")),
    }
}

/// Serde for sizes: a number of bytes or a string with a unit.
pub(super) mod size {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(*value)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(n),
            Raw::Text(text) => super::parse_size(&text).map_err(serde::de::Error::custom),
        }
    }
}

/// Serde for durations: milliseconds or a string with a unit.
pub(super) mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}ms", value.as_millis()))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Millis(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Millis(n) => Ok(Duration::from_millis(n)),
            Raw::Text(text) => super::parse_duration(&text).map_err(serde::de::Error::custom),
        }
    }
}
