//! Integer fields that accept any JSON number with an integral value.
//!
//! JSON has one number type, and JSON Schema (so OpenAPI 3.1) counts `9231.0` as an
//! integer; JavaScript and many other clients cannot tell the two apart. Serde's plain
//! integer types reject `9231.0`, so the request fields documented as integers use these
//! deserializers: `9231`, `9231.0` and `9.231e3` are all 9231, while `9231.5`, a value out
//! of the field's range and anything not a number are still errors.
//!
//! ```text
//! #[serde(deserialize_with = "crate::wire::integer::exact")]
//! pub partitions: u32,
//! #[serde(default, deserialize_with = "crate::wire::integer::optional")]
//! pub partition: Option<u32>,
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{Error, Unexpected, Visitor};

/// 2^64, the first float past `u64::MAX`.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
/// -2^63, `i64::MIN` as a float (exact).
const MINUS_TWO_POW_63: f64 = -9_223_372_036_854_775_808.0;

struct Integral<T>(PhantomData<T>);

impl<'de, T> Visitor<'de> for Integral<T>
where
    T: TryFrom<u64> + TryFrom<i64>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an integer from {} to {}",
            range::<T>().0,
            range::<T>().1
        )
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<T, E> {
        // Every float at or above 2^53 is integral; below, `fract` tells. The casts are
        // exact inside the checked ranges.
        if v.is_finite() && v.fract() == 0.0 {
            if (0.0..TWO_POW_64).contains(&v) {
                return self.visit_u64(v as u64);
            }
            if (MINUS_TWO_POW_63..0.0).contains(&v) {
                return self.visit_i64(v as i64);
            }
        }
        Err(E::invalid_value(Unexpected::Float(v), &self))
    }
}

/// The range of `T`, for messages: probe the bounds the conversions accept.
fn range<T: TryFrom<u64> + TryFrom<i64>>() -> (i128, i128) {
    let min = [i64::MIN, i64::from(i32::MIN), i64::from(i16::MIN), 0]
        .into_iter()
        .find(|v| T::try_from(*v).is_ok())
        .unwrap_or(0);
    let max = [
        u64::MAX,
        i64::MAX as u64,
        u64::from(u32::MAX),
        i32::MAX as u64,
        u64::from(u16::MAX),
    ]
    .into_iter()
    .find(|v| T::try_from(*v).is_ok())
    .unwrap_or(0);
    (i128::from(min), i128::from(max))
}

/// An integer field: any JSON number with an integral value in `T`'s range.
pub fn exact<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64> + TryFrom<i64>,
{
    deserializer.deserialize_any(Integral(PhantomData))
}

/// An optional integer field: `null` (or absent, with `#[serde(default)]`) is `None`.
pub fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64> + TryFrom<i64>,
{
    struct Maybe<T>(PhantomData<T>);
    impl<'de, T: TryFrom<u64> + TryFrom<i64>> Visitor<'de> for Maybe<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            Integral::<T>(PhantomData).expecting(f)?;
            f.write_str(" or null")
        }
        fn visit_none<E: Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_unit<E: Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            exact(d).map(Some)
        }
    }
    deserializer.deserialize_option(Maybe(PhantomData))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Fields {
        #[serde(deserialize_with = "exact")]
        small: u32,
        #[serde(default, deserialize_with = "optional")]
        signed: Option<i64>,
        #[serde(default, deserialize_with = "optional")]
        big: Option<u64>,
    }

    fn parse(json: &str) -> Result<Fields, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn integral_numbers_in_range_are_integers() {
        let f = parse(r#"{"small": 9231.0, "signed": -5e0, "big": 18446744073709551615}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((f.small, f.signed, f.big), (9231, Some(-5), Some(u64::MAX)));
        let f = parse(r#"{"small": 4294967295, "big": 1e19, "signed": null}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (f.small, f.signed, f.big),
            (u32::MAX, None, Some(10u64.pow(19)))
        );
        let f = parse(r#"{"small": 0}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((f.signed, f.big), (None, None));
    }

    #[test]
    fn fractions_out_of_range_and_non_numbers_are_errors() {
        for bad in [
            r#"{"small": 1.5}"#,
            r#"{"small": -1}"#,
            r#"{"small": -1.0}"#,
            r#"{"small": 4294967296}"#,
            r#"{"small": 4294967296.0}"#,
            r#"{"small": "1"}"#,
            r#"{"small": null}"#,
            r#"{"small": 1, "big": 1.8446744073709552e19}"#,
            r#"{"small": 1, "big": -1}"#,
            r#"{"small": 1, "signed": 9.3e18}"#,
            r#"{"small": 1, "signed": true}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let message = parse(r#"{"small": 1.5}"#).err().unwrap_or_default();
        assert!(
            message.contains("an integer from 0 to 4294967295"),
            "{message}"
        );
    }
}
