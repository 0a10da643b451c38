//! Acknowledge links: `<public_url>/ack/<alert_id>?exp=<unix>&sig=<hex>`, where `sig` is an
//! HMAC-SHA256 over the alert id and the expiry with a key only this installation knows. A
//! link cannot be forged for another alert or stretched past its expiry, and needs no login
//! — which is what someone woken by a phone at 3 a.m. needs.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct AckSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for AckSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AckSigner(<key>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AckError {
    #[error("this acknowledge link expired at {0}; acknowledge with `stormwatch ack` instead")]
    Expired(DateTime<Utc>),
    #[error("this acknowledge link is not valid for this alert (signature mismatch)")]
    BadSignature,
}

impl AckSigner {
    pub(crate) fn new(key: Vec<u8>) -> AckSigner {
        AckSigner { key }
    }

    /// A fresh random key, for installations that do not configure one (kept in the state file).
    pub fn generate_key() -> Vec<u8> {
        (0..32).map(|_| rand::random::<u8>()).collect()
    }

    fn mac(&self, alert_id: &str, expires: i64) -> HmacSha256 {
        // A key of any length is valid for HMAC; `new_from_slice` only fails for fixed-size MACs.
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
        mac.update(format!("stormwatch-ack\n{alert_id}\n{expires}").as_bytes());
        mac
    }

    pub(crate) fn sign(&self, alert_id: &str, expires: DateTime<Utc>) -> String {
        hex::encode(self.mac(alert_id, expires.timestamp()).finalize().into_bytes())
    }

    pub(crate) fn link(&self, public_url: &str, alert_id: &str, expires: DateTime<Utc>) -> String {
        format!(
            "{}/ack/{alert_id}?exp={}&sig={}",
            public_url.trim_end_matches('/'),
            expires.timestamp(),
            self.sign(alert_id, expires)
        )
    }

    /// Checks a link's parts, in constant time for the signature.
    pub(crate) fn verify(&self, alert_id: &str, expires: i64, sig: &str, now: DateTime<Utc>) -> Result<(), AckError> {
        let given = hex::decode(sig).map_err(|_| AckError::BadSignature)?;
        self.mac(alert_id, expires).verify_slice(&given).map_err(|_| AckError::BadSignature)?;
        let expiry = DateTime::from_timestamp(expires, 0).unwrap_or_default();
        if now > expiry {
            return Err(AckError::Expired(expiry));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_verifies_only_for_its_alert_and_until_it_expires() {
        let signer = AckSigner::new(b"k".repeat(32));
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let exp = now + chrono::Duration::days(7);
        let link = signer.link("https://sw.example.org/", "abc-1", exp);
        assert!(link.starts_with("https://sw.example.org/ack/abc-1?exp="), "{link}");
        let sig = signer.sign("abc-1", exp);
        assert_eq!(signer.verify("abc-1", exp.timestamp(), &sig, now), Ok(()));
        assert_eq!(signer.verify("abc-2", exp.timestamp(), &sig, now), Err(AckError::BadSignature));
        assert_eq!(signer.verify("abc-1", exp.timestamp() + 1, &sig, now), Err(AckError::BadSignature));
        assert_eq!(signer.verify("abc-1", exp.timestamp(), "zz", now), Err(AckError::BadSignature));
        let later = exp + chrono::Duration::seconds(1);
        assert_eq!(signer.verify("abc-1", exp.timestamp(), &sig, later), Err(AckError::Expired(exp)));
        let other = AckSigner::new(b"q".repeat(32));
        assert_eq!(other.verify("abc-1", exp.timestamp(), &sig, now), Err(AckError::BadSignature));
    }
}
