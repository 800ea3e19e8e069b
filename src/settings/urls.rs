//! URLs the answer to CloudFormation may go to, taken apart once, the same way for the
//! ResponseURL and for the operator's `PLANTON_RESPONSE_URL_PREFIXES`, and compared part
//! by part (scheme, host, port, path) rather than as text. A text prefix is no limit:
//! `http://127.0.0.1:1@attacker.example/` starts with `http://127.0.0.1:1`, yet its host
//! is `attacker.example` (what precedes the `@` is a user name), and the responder would
//! send the answer, a bearer credential for the resource, there.
//!
//! The parse is the responder's own (`hyper::Uri`), so what is checked is what is
//! connected to; the authority (user name, host, port) is then read here, because
//! `hyper::Uri` silently drops a port it cannot read (`h:99999` has none) and accepts a
//! sign (`h:+80`).

use hyper::Uri;
use std::fmt;

/// Why a text is not a URL an answer may go to; each reads after "the URL ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("is not a URL")]
    NotAUrl,
    #[error("is not http or https")]
    Scheme,
    #[error("names no host")]
    NoHost,
    #[error("carries a user name (user@host), which would send the request to another host than it seems to name")]
    UserInfo,
    #[error("has a port that is not a number from 1 to 65535")]
    Port,
    #[error(
        "has a backslash, or a . or .. path segment, which servers may resolve to another path"
    )]
    Path,
    #[error("has a query or a fragment, which a prefix cannot limit")]
    Query,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An absolute http(s) URL, as the responder will connect to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub scheme: Scheme,
    /// Lower case (host names are case-insensitive); IPv6 literals keep their brackets.
    pub host: String,
    /// The port the URL writes, if any (`None` also for an empty one, `host:`).
    pub port: Option<u16>,
    /// The path, without query or fragment; `/` when the URL has none.
    pub path: String,
    has_query: bool,
}

/// The authority's parts: host, and the port as written (`Some("")` for `host:`).
struct Authority<'a> {
    host: &'a str,
    port: Option<&'a str>,
}

impl HttpUrl {
    pub fn parse(text: &str) -> Result<HttpUrl, UrlError> {
        let uri: Uri = text.parse().map_err(|_| UrlError::NotAUrl)?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            Some(_) => return Err(UrlError::Scheme),
            None => return Err(UrlError::NotAUrl),
        };
        let authority = uri.authority().ok_or(UrlError::NoHost)?.as_str();
        let Authority { host, port } = split_authority(authority)?;
        let port = match port {
            None | Some("") => None,
            Some(p) => Some(port_number(p)?),
        };
        let path = uri.path();
        if text.contains('\\') || has_dot_segment(path) {
            return Err(UrlError::Path);
        }
        Ok(HttpUrl {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path: if path.is_empty() { "/" } else { path }.to_string(),
            has_query: uri.query().is_some() || text.contains('#'),
        })
    }

    /// The port connected to: the written one, else the scheme's.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }
}

/// `user@` is refused before anything else is read; an IPv6 literal is `[...]`.
fn split_authority(authority: &str) -> Result<Authority<'_>, UrlError> {
    if authority.contains('@') {
        return Err(UrlError::UserInfo);
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or(UrlError::NoHost)?;
        let host = &authority[..end + 2];
        match &rest[end + 1..] {
            "" => (host, None),
            after => (host, Some(after.strip_prefix(':').ok_or(UrlError::Port)?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(UrlError::NoHost);
    }
    Ok(Authority { host, port })
}

fn port_number(p: &str) -> Result<u16, UrlError> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::Port);
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(UrlError::Port),
        Ok(n) => Ok(n),
    }
}

/// `.` or `..` as a path segment, written plainly or percent-encoded.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let s = segment.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    })
}

/// Which ports a prefix admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ports {
    /// `http://127.0.0.1:`: any port of that host (a local listener's port changes with
    /// every run).
    Any,
    /// `http://127.0.0.1:4566`, or the scheme's port when none is written.
    Exactly(u16),
}

/// One `PLANTON_RESPONSE_URL_PREFIXES` entry: a URL whose scheme, host and port a
/// ResponseURL must have, and whose path (whole segments) it must start with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPrefix {
    written: String,
    scheme: Scheme,
    host: String,
    ports: Ports,
    path: String,
}

impl UrlPrefix {
    /// A prefix as the operator writes it. Refused: anything [`HttpUrl::parse`]
    /// refuses, and a query or fragment.
    pub fn parse(text: &str) -> Result<UrlPrefix, UrlError> {
        let url = HttpUrl::parse(text)?;
        if url.has_query {
            return Err(UrlError::Query);
        }
        // `HttpUrl` reads `host:` as no port; a prefix reads it as any port.
        let any_port = text
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(rest))
            .is_some_and(|authority| authority.ends_with(':'));
        let ports = if any_port {
            Ports::Any
        } else {
            Ports::Exactly(url.effective_port())
        };
        Ok(UrlPrefix {
            written: text.to_string(),
            scheme: url.scheme,
            host: url.host,
            ports,
            path: url.path,
        })
    }

    /// Whether `url` is under this prefix: the same scheme, host and port, and a path
    /// that is the prefix's or continues it past a `/` (a prefix `/cb` admits `/cb` and
    /// `/cb/x`, not `/cbx`).
    pub fn admits(&self, url: &HttpUrl) -> bool {
        let port_ok = match self.ports {
            Ports::Any => true,
            Ports::Exactly(p) => url.effective_port() == p,
        };
        let path_ok = match url.path.strip_prefix(self.path.as_str()) {
            Some(rest) => self.path.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
            None => false,
        };
        url.scheme == self.scheme && url.host == self.host && port_ok && path_ok
    }
}

impl fmt::Display for UrlPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(p: &str) -> UrlPrefix {
        UrlPrefix::parse(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn admits(p: &str, url: &str) -> bool {
        match HttpUrl::parse(url) {
            Ok(u) => prefix(p).admits(&u),
            Err(_) => false,
        }
    }

    #[test]
    fn a_user_name_never_passes_for_a_host() {
        // Issue 22: a text prefix let these through to attacker.example.
        for url in [
            "http://127.0.0.1:1@attacker.example/",
            "http://127.0.0.1:1@attacker.example:1/x",
            "http://127.0.0.1@attacker.example/",
            "http://a@b@127.0.0.1:1/",
        ] {
            assert_eq!(HttpUrl::parse(url), Err(UrlError::UserInfo), "{url}");
            assert!(!admits("http://127.0.0.1:1", url), "{url}");
            assert!(!admits("http://127.0.0.1:", url), "{url}");
        }
        assert_eq!(
            UrlPrefix::parse("http://user@127.0.0.1:1"),
            Err(UrlError::UserInfo)
        );
    }

    #[test]
    fn prefixes_compare_scheme_host_port_and_whole_path_segments() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, bool)] = &[
            ("http://127.0.0.1:", "http://127.0.0.1:4567/response/r1?X-Amz-Signature=s", true),
            ("http://127.0.0.1:", "http://127.0.0.1/x", true),
            ("http://127.0.0.1:", "http://127.0.0.2:4567/x", false),
            ("http://127.0.0.1:", "http://127.0.0.1.attacker.example:4567/x", false),
            ("http://127.0.0.1:", "https://127.0.0.1:4567/x", false),
            ("http://127.0.0.1:1", "http://127.0.0.1:1/x", true),
            // A text prefix: `:1` would have admitted `:10`, `:1234`.
            ("http://127.0.0.1:1", "http://127.0.0.1:10/x", false),
            ("http://127.0.0.1:1", "http://127.0.0.1:1234/x", false),
            // No port written: the scheme's.
            ("http://localhost", "http://localhost/x", true),
            ("http://localhost", "http://localhost:80/x", true),
            ("http://localhost", "http://localhost:8080/x", false),
            ("http://localhost", "http://localhost.attacker.example/x", false),
            ("https://Emulator.Local:4566", "https://emulator.local:4566/x", true),
            ("http://[::1]:", "http://[::1]:9000/x", true),
            ("http://[::1]:", "http://[::2]:9000/x", false),
            // Paths by whole segments.
            ("http://127.0.0.1:/cb", "http://127.0.0.1:9/cb", true),
            ("http://127.0.0.1:/cb", "http://127.0.0.1:9/cb/r1?q", true),
            ("http://127.0.0.1:/cb", "http://127.0.0.1:9/cbx", false),
            ("http://127.0.0.1:/cb/", "http://127.0.0.1:9/cb/r1", true),
            ("http://127.0.0.1:/cb", "http://127.0.0.1:9/", false),
            ("http://127.0.0.1:/cb", "http://127.0.0.1:9/cb/../admin", false),
            ("http://127.0.0.1:/cb", "http://127.0.0.1:9/cb/%2E%2e/admin", false),
            ("http://127.0.0.1:/cb", "http://127.0.0.1:9/cb\\..\\admin", false),
            // A query elsewhere is not a host.
            ("http://127.0.0.1:", "https://evil.example/?http://127.0.0.1:", false),
            // Ports the responder's parser would have dropped or read with a sign.
            ("http://127.0.0.1:", "http://127.0.0.1:99999/x", false),
            ("http://127.0.0.1:", "http://127.0.0.1:+80/x", false),
        ];
        for (p, url, want) in cases {
            assert_eq!(admits(p, url), *want, "{p} vs {url}");
        }
    }

    #[test]
    fn what_is_not_a_prefix_is_refused() {
        for (p, why) in [
            ("127.0.0.1:", UrlError::NotAUrl),
            ("ftp://127.0.0.1/", UrlError::Scheme),
            ("http://:80/", UrlError::NoHost),
            ("http://127.0.0.1:0/", UrlError::Port),
            ("http://127.0.0.1:99999/", UrlError::Port),
            ("http://127.0.0.1:8o/", UrlError::Port),
            ("http://127.0.0.1:/a/../b", UrlError::Path),
            ("http://127.0.0.1:/cb?x=1", UrlError::Query),
            ("http://127.0.0.1:/cb#x", UrlError::Query),
        ] {
            assert_eq!(UrlPrefix::parse(p), Err(why), "{p}");
        }
    }
}
