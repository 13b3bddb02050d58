//! Claims of a verified client certificate (`--tls-client-ca`), read once per connection and
//! handed to plugins as `auth.client_cert.*` request-context values.
//!
//! The certificate was verified by rustls during the handshake; this module only describes
//! it. Parsing happens once per connection, so a keep-alive connection's requests share one
//! `Arc` of claims.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// The claims of one client certificate, as `(context key, value)` pairs.
#[derive(Debug, Clone)]
pub struct ClientCert(pub Arc<[(String, String)]>);

impl ClientCert {
    /// The claims of the leaf certificate a TLS connection presented, if any.
    pub(crate) fn of(conn: &rustls::ServerConnection) -> Option<Self> {
        let leaf = conn.peer_certificates()?.first()?;
        Some(Self(claims(leaf.as_ref()).into()))
    }
}

/// Describes a DER certificate. The fingerprint is always there; the other claims only when
/// the certificate parses (rustls accepted it, so it does unless an extension is unusual).
pub(crate) fn claims(der: &[u8]) -> Vec<(String, String)> {
    let key = |k: &str| format!("auth.client_cert.{k}");
    let mut out = vec![(key("sha256"), barbacane_artifact::sha256_hex(der))];
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return out;
    };
    out.push((key("subject"), cert.subject().to_string()));
    if let Some(cn) = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
    {
        out.push((key("subject_cn"), cn.to_owned()));
    }
    out.push((key("issuer"), cert.issuer().to_string()));
    let mut serial = String::with_capacity(cert.raw_serial().len() * 2);
    for byte in cert.raw_serial() {
        let _ = write!(serial, "{byte:02x}");
    }
    out.push((key("serial"), serial));
    out.push((
        key("not_after"),
        cert.validity().not_after.timestamp().to_string(),
    ));
    let (mut dns, mut email, mut uri, mut ip) = (vec![], vec![], vec![], vec![]);
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(v) => dns.push((*v).to_owned()),
                GeneralName::RFC822Name(v) => email.push((*v).to_owned()),
                GeneralName::URI(v) => uri.push((*v).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Some(addr) = ip_of(bytes) {
                        ip.push(addr.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    for (name, values) in [
        ("san.dns", dns),
        ("san.email", email),
        ("san.uri", uri),
        ("san.ip", ip),
    ] {
        if !values.is_empty() {
            out.push((key(name), values.join(",")));
        }
    }
    out
}

fn ip_of(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::claims;

    #[test]
    fn describes_subject_issuer_serial_and_alternative_names() {
        let mut params = rcgen::CertificateParams::new(vec![
            "client.example".to_owned(),
            "alt.example".to_owned(),
        ])
        .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "billing-service");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Acme");
        params.subject_alt_names.push(rcgen::SanType::Rfc822Name(
            "ops@example.com".try_into().unwrap(),
        ));
        params.subject_alt_names.push(rcgen::SanType::URI(
            "spiffe://acme/billing".try_into().unwrap(),
        ));
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("10.1.2.3".parse().unwrap()));
        params.serial_number = Some(vec![0x01, 0xab, 0x7f].into());
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let got: std::collections::HashMap<_, _> = claims(cert.der()).into_iter().collect();
        let get = |k: &str| got[&format!("auth.client_cert.{k}")].as_str();
        assert_eq!(get("subject_cn"), "billing-service");
        assert!(
            get("subject").contains("CN=billing-service"),
            "{}",
            get("subject")
        );
        assert!(get("subject").contains("O=Acme"), "{}", get("subject"));
        assert_eq!(get("issuer"), get("subject"), "self-signed");
        assert_eq!(get("serial"), "01ab7f");
        assert_eq!(get("san.dns"), "client.example,alt.example");
        assert_eq!(get("san.email"), "ops@example.com");
        assert_eq!(get("san.uri"), "spiffe://acme/billing");
        assert_eq!(get("san.ip"), "10.1.2.3");
        assert_eq!(get("sha256").len(), 64);
        assert!(get("not_after").parse::<i64>().unwrap() > 1_700_000_000);
    }

    #[test]
    fn garbage_keeps_only_the_fingerprint() {
        let got = claims(b"not a certificate");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "auth.client_cert.sha256");
    }
}
