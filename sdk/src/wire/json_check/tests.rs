//! The checker against `serde_json`: the same verdict on valid JSON and on mutations of it,
//! plus the rules `serde_json`'s lenient paths do not enforce (surrogates, depth).

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde::de::IgnoredAny;
use serde_json::Value;

use super::*;

/// `n` nested containers around `0`, arrays and objects alternating.
fn nested(n: usize) -> String {
    let mut text = String::new();
    for level in 0..n {
        text.push_str(if level % 2 == 0 { "[" } else { "{\"k\":" });
    }
    text.push('0');
    for level in (0..n).rev() {
        text.push(if level % 2 == 0 { ']' } else { '}' });
    }
    text
}

/// `text` as a JSON string with every character a `\u` escape (pairs above U+FFFF).
fn escape_all(text: &str) -> String {
    let mut out = String::from("\"");
    for unit in text.encode_utf16() {
        out.push_str(&format!("\\u{unit:04X}"));
    }
    out.push('"');
    out
}

/// How deep a parsed value nests.
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Any JSON value, a few levels deep.
fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Bytes a mutation inserts: JSON's punctuation, escapes, UTF-8 pieces, anything.
fn arb_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(b"{}[]\",:\\u0123456789abcdefABCDEF.eE+-tfnlrs \t\n".to_vec()),
        any::<u8>(),
    ]
}

/// The rule both verdicts must keep for `text`: what `check` accepts `serde_json` reads,
/// and what `serde_json` reads strictly (as a `Value`) within the depth limit `check`
/// accepts.
fn agrees_with_serde(text: &[u8]) -> Result<(), TestCaseError> {
    let ours = check(text);
    if ours.is_ok() {
        prop_assert!(serde_json::from_slice::<IgnoredAny>(text).is_ok());
    }
    if let Ok(value) = serde_json::from_slice::<Value>(text)
        && depth(&value) <= MAX_DEPTH
    {
        prop_assert!(
            ours.is_ok(),
            "{:?}: {:?}",
            String::from_utf8_lossy(text),
            ours
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn serialized_values_are_accepted(value in arb_value(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_vec_pretty(&value).unwrap()
        } else {
            serde_json::to_vec(&value).unwrap()
        };
        prop_assert_eq!(check(&text), Ok(()));
    }

    #[test]
    fn mutated_values_get_serde_json_s_verdict(
        value in arb_value(),
        edits in prop::collection::vec((0u8..3, any::<prop::sample::Index>(), arb_byte()), 1..4),
    ) {
        let mut text = serde_json::to_vec(&value).unwrap();
        for (op, at, byte) in edits {
            let i = at.index(text.len() + 1);
            match op {
                0 => text.insert(i, byte),
                1 if i < text.len() => { text.remove(i); }
                _ if i < text.len() => text[i] = byte,
                _ => text.push(byte),
            }
        }
        agrees_with_serde(&text)?;
    }

    #[test]
    fn arbitrary_bytes_get_serde_json_s_verdict(
        text in prop::collection::vec(arb_byte(), 0..40),
    ) {
        agrees_with_serde(&text)?;
    }

    #[test]
    fn the_word_at_a_time_skip_matches_the_byte_rule(
        bytes in prop::collection::vec(prop_oneof![arb_byte(), 0x1eu8..0x22, 0x5bu8..0x5e, 0x7eu8..0x82], 0..40),
    ) {
        let one_at_a_time = bytes.iter().take_while(|&&b| is_plain(b)).count();
        prop_assert_eq!(plain_len(&bytes), one_at_a_time);
    }

    #[test]
    fn escaped_strings_with_pairs_are_accepted(text in any::<String>()) {
        let escaped = escape_all(&text);
        prop_assert_eq!(check(escaped.as_bytes()), Ok(()));
        prop_assert_eq!(serde_json::from_str::<String>(&escaped).unwrap(), text);
    }

    #[test]
    fn every_unpaired_surrogate_is_refused(unit in 0xD800u16..=0xDFFF, after in any::<u16>()) {
        let alone = format!("[\"x\\u{unit:04x}\"]");
        let error = check(alone.as_bytes()).unwrap_err();
        prop_assert_eq!(error, JsonError { offset: 3, kind: JsonErrorKind::LoneSurrogate(unit) });
        let followed = format!("\"\\u{unit:04x}\\u{after:04x}\"");
        let paired = (0xD800..0xDC00).contains(&unit) && (0xDC00..0xE000).contains(&after);
        prop_assert_eq!(check(followed.as_bytes()).is_ok(), paired);
    }
}

#[test]
fn the_depth_limit_is_64_for_arrays_and_objects() {
    for n in 0..=MAX_DEPTH {
        assert_eq!(check(nested(n).as_bytes()), Ok(()), "{n}");
        assert!(serde_json::from_str::<Value>(&nested(n)).is_ok());
    }
    for n in [MAX_DEPTH + 1, 200, 100_000] {
        let error = check(nested(n).as_bytes()).unwrap_err();
        assert_eq!(error.kind, JsonErrorKind::TooDeep, "{n}");
    }
    let error = check(format!("[{}]", nested(64)).as_bytes()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "arrays and objects nest deeper than 64 at byte 188"
    );
}

#[test]
fn messages_name_the_fault_and_its_byte() {
    let cases: &[(&[u8], &str)] = &[
        (br#""ab\ud800""#, "lone surrogate \\ud800 at byte 3"),
        (br#""\udc00\ud800""#, "lone surrogate \\udc00 at byte 1"),
        (
            br#"{"k":"\ud800\u0041"}"#,
            "lone surrogate \\ud800 at byte 6",
        ),
        (b"\"\xff\"", "invalid UTF-8 at byte 1"),
        (b"\"\xed\xa0\x80\"", "invalid UTF-8 at byte 1"),
        (b"\"\xc0\xaf\"", "invalid UTF-8 at byte 1"),
        (b"\"\xf4\x90\x80\x80\"", "invalid UTF-8 at byte 1"),
        (b"\"\xe2\x82\"", "invalid UTF-8 at byte 1"),
        (b"\xef\xbb\xbf1", "invalid UTF-8 at byte 0"),
        (b"\"a\nb\"", "unexpected byte 0x0a at byte 2"),
        (b"[1,]", "unexpected ']' at byte 3"),
        (b"{\"a\" 1}", "unexpected '1' at byte 5"),
        (b"01", "trailing characters at byte 1"),
        (b"1 2", "trailing characters at byte 2"),
        (b"[1", "unexpected end at byte 2"),
        (b"", "unexpected end at byte 0"),
        (b"tru", "unexpected end at byte 3"),
        (b"\"\\x\"", "unexpected 'x' at byte 2"),
    ];
    for (text, message) in cases {
        let error = check(text).unwrap_err();
        assert_eq!(
            &error.to_string(),
            message,
            "{:?}",
            String::from_utf8_lossy(text)
        );
        assert!(serde_json::from_slice::<Value>(text).is_err());
    }
    for good in [
        &b" {\"a\":[1,-0.5e+3,true,false,null,\"\\ud83d\\ude00\\n\\/\"],\"\":{}}\n"[..],
        "\"κλειδί ✓ 😀\"".as_bytes(),
        b"-0",
        b"1E-7",
        b"[]",
    ] {
        assert_eq!(check(good), Ok(()), "{:?}", String::from_utf8_lossy(good));
    }
}
