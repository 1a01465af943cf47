//! Principals files for tests of a broker with authentication: the SHA-256 of a token and
//! one `[[principal]]` table, with an optional inline `quota` table.

/// The SHA-256 of `token` in hex, by `sha256sum` (the test crate has no hash of its own).
pub fn sha256(token: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("sha256sum: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(token.as_bytes())
            .unwrap_or_else(|e| panic!("sha256sum: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("sha256sum: {e}"));
    String::from_utf8_lossy(&out.stdout)[..64].to_owned()
}

/// One `[[principal]]` table with its allow rules.
pub fn principal(name: &str, token: &str, allow: &[&str]) -> String {
    principal_with_quota(name, token, allow, None)
}

/// One `[[principal]]` table; `quota` is the inline table's body, e.g.
/// `"produce_bytes_per_second = 1024"`.
pub fn principal_with_quota(
    name: &str,
    token: &str,
    allow: &[&str],
    quota: Option<&str>,
) -> String {
    let allow: Vec<String> = allow.iter().map(|r| format!("{r:?}")).collect();
    let quota = quota.map_or(String::new(), |q| format!("quota = {{ {q} }}\n"));
    format!(
        "[[principal]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\nallow = [{}]\n{quota}\n",
        sha256(token),
        allow.join(", ")
    )
}
