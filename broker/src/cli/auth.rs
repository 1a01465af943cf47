//! `silt auth token`: a new random token, and the `[[principal]]` table to paste into the
//! principals file (which keeps only the token's SHA-256); `silt auth cluster-secret`.

use crate::auth::principals::Principals;
use crate::auth::token::{hash_token, new_token};
use crate::cli::{AuthCommand, TokenArgs};

/// Runs an `auth` subcommand.
pub(super) fn run(command: AuthCommand) -> anyhow::Result<()> {
    match command {
        AuthCommand::Token(args) => token(&args),
        AuthCommand::ClusterSecret => super::metadata::print_cluster_secret(),
    }
}

/// Prints a new token on the first line, then the principal to paste.
fn token(args: &TokenArgs) -> anyhow::Result<()> {
    let token = new_token().map_err(|_| anyhow::anyhow!("the system random source failed"))?;
    let entry = principal_entry(&args.name, &hash_token(&token).to_string(), &args.allow);
    Principals::parse(&entry)?;
    println!("{token}");
    println!();
    println!("# Add to the principals file (auth.principals_file); it keeps only the SHA-256:");
    print!("{entry}");
    Ok(())
}

/// The `[[principal]]` table for `name`, its token's hash and its allow rules.
fn principal_entry(name: &str, hash: &str, allow: &[String]) -> String {
    let quote = |text: &str| toml::Value::String(text.to_owned()).to_string();
    let rules: Vec<String> = allow.iter().map(|rule| quote(rule)).collect();
    format!(
        "[[principal]]\nname = {}\ntoken_sha256 = \"{hash}\"\nallow = [{}]\n",
        quote(name),
        rules.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_parses_back_with_its_hash_and_rules() {
        let token = new_token().unwrap();
        let allow = vec!["produce:orders*".to_owned(), "consume:*".to_owned()];
        let entry = principal_entry("w", &hash_token(&token).to_string(), &allow);
        let principals = Principals::parse(&entry).unwrap();
        let principal = principals.authenticate(&token).unwrap();
        assert_eq!(principal.name, "w");
        assert_eq!(principal.rules.len(), 2);
    }

    #[test]
    fn a_bad_rule_or_name_is_refused_before_printing() {
        let bad_rule = principal_entry("w", &hash_token("t").to_string(), &["write:x".into()]);
        assert!(Principals::parse(&bad_rule).is_err());
        let bad_name = principal_entry("a\"b", &hash_token("t").to_string(), &[]);
        assert!(Principals::parse(&bad_name).is_err());
    }
}
