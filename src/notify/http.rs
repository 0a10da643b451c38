//! One POST for every HTTP channel (webhook, Slack, Teams, action), and what its answer means:
//! delivered, worth retrying (and when), or refused for good.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use sha2::Sha256;

use super::SendError;

/// `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the receiver's secret
/// (docs/webhook.md). The time is signed too, so a captured request cannot be replayed later.
pub fn signature(secret: &[u8], unix: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(unix.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={unix},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A shared client: connection reuse matters when a storm sends hundreds of notices.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
}

/// POSTs a JSON value (see `post`).
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    key: &str,
    secret: Option<&[u8]>,
) -> Result<(), SendError> {
    // `Display` of a JSON value is its serialization, which cannot fail.
    post(client, url, body.to_string().into_bytes(), key, secret).await
}

/// POSTs a JSON body. 2xx is delivered; 408, 429 and 5xx, timeouts and connection errors are
/// worth retrying (honouring Retry-After); any other status will not change by retrying.
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    key: &str,
    secret: Option<&[u8]>,
) -> Result<(), SendError> {
    let mut headers = HeaderMap::new();
    let mut put = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (name.parse::<reqwest::header::HeaderName>(), value.parse()) {
            headers.insert(n, v);
        }
    };
    put(CONTENT_TYPE.as_str(), "application/json");
    put(USER_AGENT.as_str(), concat!("stormwatch/", env!("CARGO_PKG_VERSION")));
    put("idempotency-key", key);
    if let Some(secret) = secret {
        put("stormwatch-signature", &signature(secret, chrono::Utc::now().timestamp(), &body));
    }
    let response = client.post(url).headers(headers).body(body).send().await.map_err(|e| {
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        SendError::Retry { reason: format!("{what}: {}", redact(&e.to_string(), url)), after: None }
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after);
    let reason = format!("HTTP {}", status.as_u16());
    if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
        Err(SendError::Retry { reason, after })
    } else {
        Err(SendError::Permanent(format!("{reason}: the receiver refused it; check its URL and credentials")))
    }
}

/// A Slack or Teams webhook URL is a credential: keep it out of error messages and logs.
fn redact(message: &str, url: &str) -> String {
    let origin = url::Url::parse(url).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    message.replace(url, &format!("{origin}/…"))
}

/// Retry-After: seconds, or an HTTP date.
pub(crate) fn retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_time_dot_body() {
        // Checked against Python: hmac.new(b"secret", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            signature(b"secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn urls_stay_out_of_errors() {
        let url = "https://hooks.slack.com/services/T0/B0/SECRETTOKEN";
        let msg = redact(&format!("error sending request for url ({url})"), url);
        assert!(!msg.contains("SECRETTOKEN") && msg.contains("https://hooks.slack.com/…"), "{msg}");
    }
}
