//! The server's edge, around every route: which `Host` a request may name, and the headers
//! every answer carries.
//!
//! The `Host` check stops DNS rebinding: a web page on `evil.example` whose name is made to
//! resolve to 127.0.0.1 can have a browser on the same machine send requests here, and read
//! the answers (mention texts on `/`, alerts in the API) as if they were its own, since to the
//! browser they come from `evil.example`. Such a request still names `evil.example` in its
//! `Host` header, so only the names stormwatch is meant to be reached by are answered:
//! loopback (`localhost`, `127.0.0.1`, `[::1]`, any port), the listen address, and the host of
//! `[alerts] public_url`; anything else gets 421 Misdirected Request. When it listens on every
//! address (`0.0.0.0`, `[::]`), any IP literal is answered too: which addresses the machine
//! has is not known here, and an IP literal is never a rebinding (its page's origin is that IP).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The names a request's `Host` may give; built from `[server] listen` and `[alerts] public_url`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AllowedHosts {
    /// Lower-case names and IP literals (without brackets), besides loopback.
    names: Vec<String>,
    /// Listening on every address: any IP literal is this machine's.
    any_ip: bool,
}

impl AllowedHosts {
    pub(crate) fn new(listen: SocketAddr, public_url: &str) -> AllowedHosts {
        let mut names = vec!["localhost".to_string()];
        if !listen.ip().is_unspecified() {
            names.push(listen.ip().to_string());
        }
        // The config checked that it is an http(s) URL.
        if let Some(host) = url::Url::parse(public_url).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
            names.push(match host {
                url::Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
                url::Host::Ipv4(ip) => ip.to_string(),
                url::Host::Ipv6(ip) => ip.to_string(),
            });
        }
        AllowedHosts { names, any_ip: listen.ip().is_unspecified() }
    }

    /// Whether a `Host` header's value (a name or an IP literal, with or without a port) is
    /// one stormwatch answers for.
    pub(crate) fn allows(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else { return false };
        if let Ok(ip) = name.parse::<IpAddr>() {
            return ip.is_loopback() || self.any_ip || self.names.iter().any(|n| n.parse() == Ok(ip));
        }
        self.names.contains(&name)
    }

    /// The names, as the refusal lists them.
    fn listed(&self) -> String {
        let mut names = vec!["localhost", "127.0.0.1", "[::1]"];
        names.extend(self.names.iter().map(String::as_str).filter(|n| *n != "localhost"));
        let mut out = names.join(", ");
        if self.any_ip {
            out.push_str(" and any IP address");
        }
        out
    }
}

/// The host part of a `Host` value, lower-case, without port, brackets or a final dot; `None`
/// when it is not a host and an optional port.
fn host_name(value: &str) -> Option<String> {
    let value = value.trim();
    let (host, port) = match value.strip_prefix('[') {
        // An IPv6 literal: "[::1]" or "[::1]:9464".
        Some(rest) => {
            let (ip, after) = rest.split_once(']')?;
            (ip, if after.is_empty() { None } else { Some(after.strip_prefix(':')?) })
        }
        // A name or an IPv4 literal has no colon of its own.
        None => match value.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        },
    };
    if host.is_empty() || port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return None;
    }
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

/// Answers only requests that name an allowed host (module doc). Health probes are exempt:
/// orchestrators send whatever host they were configured with, and the answers reveal nothing.
pub(super) async fn check_host(State(hosts): State<Arc<AllowedHosts>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == "/healthz" || path == "/readyz" {
        return next.run(request).await;
    }
    // HTTP/1.1 requires Host, HTTP/2 puts it in the URI; a request with neither comes from a
    // tool, never from a browser, and rebinding needs a browser.
    let given = match request.headers().get(header::HOST) {
        Some(v) => v.to_str().ok(),
        None => match request.uri().authority() {
            Some(a) => Some(a.as_str()),
            None => return next.run(request).await,
        },
    };
    if given.is_some_and(|h| hosts.allows(h)) {
        return next.run(request).await;
    }
    let shown: String = given.unwrap_or("(not text)").chars().take(100).collect();
    let why = format!(
        "stormwatch does not answer for the host {shown:?}: it answers for {}. If you reach it by \
         that name on purpose (a proxy, say), set [alerts] public_url to the URL you use.",
        hosts.listed()
    );
    if path.starts_with("/api/") {
        super::api::problem(StatusCode::MISDIRECTED_REQUEST, why)
    } else {
        (StatusCode::MISDIRECTED_REQUEST, format!("{why}\n")).into_response()
    }
}

/// On every answer: no content sniffing (a JSON or text answer carrying a stranger's words is
/// never run as HTML), no framing by another site (clickjacking the acknowledge button), no
/// `Referer` (the acknowledge link's signature stays out of other sites' logs). A page's own
/// CSP stays, with `frame-ancestors 'none'` added when it lacks one; an answer without one
/// gets a policy that allows nothing.
pub(super) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let policy = match headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()) {
        Some(p) if p.contains("frame-ancestors") => None,
        Some(p) => HeaderValue::from_str(&format!("{p}; frame-ancestors 'none'")).ok(),
        None => Some(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")),
    };
    if let Some(p) = policy {
        headers.insert(header::CONTENT_SECURITY_POLICY, p);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_the_listen_address_and_the_public_host_are_allowed_with_any_port() {
        let hosts = AllowedHosts::new(SocketAddr::from(([10, 0, 0, 5], 9464)), "https://SW.example.org./");
        for ok in [
            "localhost",
            "LOCALHOST:9464",
            "localhost.:80",
            "127.0.0.1:1",
            "127.0.0.2",
            "[::1]:9464",
            "[::1]",
            "10.0.0.5:9464",
            "sw.example.org",
            "sw.example.org:443",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in
            ["evil.example", "evil.example:9464", "10.0.0.6", "sw.example.org.evil.example", "", "localhost:x", "[::1"]
        {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }

    #[test]
    fn listening_on_every_address_allows_any_ip_literal_but_no_other_name() {
        let hosts = AllowedHosts::new(SocketAddr::from(([0, 0, 0, 0], 9464)), "http://127.0.0.1:9464");
        assert!(hosts.allows("192.168.1.20:9464") && hosts.allows("[fe80::1]:9464"));
        assert!(!hosts.allows("evil.example") && !hosts.allows("0.0.0.0.evil.example"));
        assert!(hosts.listed().ends_with("and any IP address"), "{}", hosts.listed());
    }
}
