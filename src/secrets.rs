//! The secrets of an exposed OTLP front door (`--expose`): a bearer token, a small CA and a
//! server certificate it signed, made fresh for each render and handed only to seed files
//! (written once, never compared, never shown).
//!
//! The CA's private key signs the server certificate and is then dropped: it is never written,
//! so nothing else can ever be signed by the CA clients trust. New hosts or a leaked key mean a
//! new set: delete `secrets/` and run `init` again.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use rand::RngExt;
use rand::distr::Alphanumeric;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde::Serialize;

/// Characters of the bearer token: 43 alphanumerics are about 256 bits.
const TOKEN_LENGTH: usize = 43;
/// Years the CA and the server certificate are valid.
const VALID_YEARS: i32 = 10;

/// What the front door's seed files hold. PEM text throughout.
#[derive(Serialize)]
pub struct FrontDoorSecrets {
    pub token: String,
    pub ca_cert: String,
    pub server_cert: String,
    pub server_key: String,
    /// Every name and address the server certificate is valid for.
    pub hosts: Vec<String>,
}

/// The names the server certificate always carries: loopback and this machine's hostname.
pub fn default_hosts() -> Vec<String> {
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    if validate_host(&name).is_ok() && !hosts.contains(&name) {
        hosts.push(name);
    }
    hosts
}

/// A host name or IP address a certificate can name: an IP, or DNS labels of
/// `[A-Za-z0-9-]` (1 to 63 characters, not starting or ending with `-`), 253 at most.
pub fn validate_host(host: &str) -> Result<()> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
        bail!(
            "expose.hosts: {host:?} is not a host name or IP address: use e.g. --set expose.hosts=otel.example.com,192.0.2.10"
        );
    }
    Ok(())
}

/// A fresh token, CA and server certificate for `hosts` (loopback, this machine, and the
/// names the user added).
pub fn generate(extra_hosts: &[String]) -> Result<FrontDoorSecrets> {
    let mut hosts = default_hosts();
    for host in extra_hosts {
        if !hosts.contains(host) {
            hosts.push(host.clone());
        }
    }
    let year = current_year();
    let not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    let not_after = rcgen::date_time_ymd(year + VALID_YEARS, 1, 1);

    let ca_key = KeyPair::generate().context("cannot generate the CA key")?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "kneo-otel OTLP front door CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_cert = ca.self_signed(&ca_key).context("cannot sign the CA")?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate().context("cannot generate the server key")?;
    let mut server = CertificateParams::new(hosts.clone())
        .with_context(|| format!("cannot make a certificate for {}", hosts.join(", ")))?;
    server.distinguished_name = rcgen::DistinguishedName::new();
    server
        .distinguished_name
        .push(DnType::CommonName, "kneo-otel OTLP front door");
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    server.not_before = not_before;
    server.not_after = not_after;
    let server_cert = server
        .signed_by(&server_key, &issuer)
        .context("cannot sign the server certificate")?;

    Ok(FrontDoorSecrets {
        token: rand::rng()
            .sample_iter(Alphanumeric)
            .take(TOKEN_LENGTH)
            .map(char::from)
            .collect(),
        ca_cert: ca_cert.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        hosts,
    })
}

fn current_year() -> i32 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Mean Gregorian year; off by at most a day at New Year, and not_before is a year back.
    1970 + (seconds / 31_556_952) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_names_or_addresses() {
        for good in [
            "otel.example.com",
            "192.0.2.10",
            "::1",
            "box-1",
            "localhost",
        ] {
            assert!(validate_host(good).is_ok(), "{good} refused");
        }
        for bad in [
            "",
            "a b",
            "-x",
            "x-",
            "a..b",
            "*.example.com",
            "a/b",
            &"x".repeat(64),
        ] {
            assert!(validate_host(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_fresh_set_is_pem_and_names_every_host() {
        let secrets = generate(&["otel.example.com".to_string()]).unwrap();
        assert_eq!(secrets.token.len(), TOKEN_LENGTH);
        assert!(secrets.ca_cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(
            secrets
                .server_cert
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert!(
            secrets
                .server_key
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        for host in ["localhost", "127.0.0.1", "otel.example.com"] {
            assert!(secrets.hosts.contains(&host.to_string()));
        }
        let again = generate(&[]).unwrap();
        assert_ne!(secrets.token, again.token);
        assert_ne!(secrets.server_key, again.server_key);
    }
}
