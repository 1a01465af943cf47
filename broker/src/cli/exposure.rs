//! Secure by default: a broker refuses to listen on a non-loopback address without
//! authentication unless told `--insecure`; on loopback it says that auth is off. With
//! authentication but no TLS on a non-loopback address it warns that tokens travel in
//! clear (TLS may be terminated in front of it, by a mesh or a load balancer).

use crate::config::Config;

/// Refuses an open broker on a reachable address (unless `insecure`), and says when
/// authentication is off.
pub(super) fn check(config: &Config, insecure: bool) -> anyhow::Result<()> {
    let addr = config.listen_addr()?;
    if config.auth.enabled() {
        if !addr.ip().is_loopback() && config.server.tls_files().is_none() {
            eprintln!(
                "warning: {addr} serves plain HTTP: bearer tokens travel in clear unless TLS is terminated in front of this broker; set server.tls_cert and server.tls_key to serve HTTPS"
            );
        }
        return Ok(());
    }
    if !addr.ip().is_loopback() && !insecure {
        anyhow::bail!(
            "refusing to listen on {addr} without authentication: anyone who can reach it could read, write and delete every topic. Configure principals (auth.principals_file or SILT_AUTH_PRINCIPALS_FILE; `silt auth token` makes one), listen on a loopback address, or pass --insecure (SILT_INSECURE=1) to run open anyway"
        );
    }
    eprintln!(
        "authentication is off (no auth.principals_file): every request is allowed everything{}",
        if insecure {
            " (--insecure)"
        } else {
            "; fine on this loopback address"
        }
    );
    Ok(())
}
