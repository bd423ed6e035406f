//! Same-origin protection: which browser pages may act on this server, and
//! which host names it answers for.
//!
//! livedash has no authentication yet, and it usually listens on the
//! loopback interface of a machine whose user also browses the web. Every
//! page they open can make their browser send requests to
//! `http://127.0.0.1:3000`. Three attacks follow; each check here stops one
//! of them and leaves non-browser clients (curl, scripts, exporters) alone:
//!
//! - **Cross-site publishes (CSRF).** A foreign page can `POST` a
//!   `text/plain`, form or multipart body to any server without a CORS
//!   preflight: the browser hides the answer, but the event is published.
//!   The publish endpoint takes only `application/json` ([`crate::publish`]),
//!   which a foreign page cannot send without a preflight that livedash never
//!   approves (it sends no CORS headers). As a second layer, a request that
//!   changes something is refused (403) when its `Origin` names another site.
//! - **Cross-site WebSocket hijacking.** WebSockets are outside CORS: any
//!   page may open one to any server and read everything said on it. The
//!   upgrade carries the page's `Origin`, which the browser sets and the
//!   page cannot change, so an upgrade from another origin is refused (403).
//! - **DNS rebinding.** A page at `http://evil.example:3000` makes its name
//!   resolve to 127.0.0.1 after it loaded; the browser then treats livedash
//!   as the attacker's own origin, so the `Origin` checks pass and SSE
//!   streams and polls become readable. What gives it away is the `Host`
//!   header, which still names `evil.example`. A server bound to loopback
//!   answers only loopback names (`localhost`, `*.localhost`, `127.x.x.x`,
//!   `[::1]`) and the hosts of `--public-hosts`; any other host gets 421.
//!   A server bound to another address is reached under names livedash
//!   cannot guess, so there the check applies only once `--public-hosts`
//!   names them.
//!
//! Why the checks are shaped so:
//!
//! - A request without `Origin` passes the origin check. Browsers send it on
//!   every WebSocket upgrade and every request that is not a `GET` or
//!   `HEAD`, so its absence means a client that is not a browser page.
//!   `Origin: null` (sandboxed frames, `file:` pages, privacy redirects) is
//!   a browser hiding where it comes from, and is refused.
//! - Only requests that act are origin-checked: any method but `GET`,
//!   `HEAD` and `OPTIONS`, and any upgrade. A foreign page can send a plain
//!   `GET` too, but it changes nothing and CORS keeps the page from reading
//!   the answer.
//! - "Same origin" is computed from the `Host` the request was sent to, not
//!   from the listen address: behind a port forward or a test proxy the page
//!   was loaded from, and its `Origin` names, the address the browser used,
//!   which is the one `Host` carries. Either scheme is accepted, since a
//!   proxy in front may terminate TLS.
//! - The host check ignores the port: rebinding is about names, and a
//!   loopback name on any port still means this machine.
//!
//! [`OriginPolicy`] is built once from the configuration and the bound
//! address; [`guard`] applies it to every request as an axum middleware,
//! counts each refusal in `livedash_rejected_total` and logs it at debug.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
    sync::Arc,
};

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderName, Method, Version},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{counters::Counters, error::ApiError};

/// Longest header text quoted back in an error or a log line.
const MAX_QUOTED: usize = 200;

/// Why a host, a `Host` header or an origin could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing was given.
    #[error("it is empty")]
    Empty,
    /// The host part is neither a host name nor an IP address.
    #[error("{0:?} is not a host name or an IP address")]
    Host(String),
    /// The port is not a number from 0 to 65535.
    #[error("{0:?} is not a port number")]
    Port(String),
    /// An origin that is not `http(s)://host[:port]`.
    #[error("{0:?} is not an origin: use http:// or https://, a host and an optional port, with no path (e.g. https://dash.example.com)")]
    Origin(String),
    /// A host given with a port where only a host is wanted.
    #[error("{0:?} has a port: give the host name alone (the port is not checked)")]
    UnwantedPort(String),
}

/// A host as requests name it: a name (lowercase, without a trailing dot)
/// or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name such as `dash.example.com` or `localhost`.
    Name(String),
    /// An IP address (written `[...]` for IPv6 in URLs and headers).
    Ip(IpAddr),
}

impl Host {
    /// Parses a name or an IPv4 address (IPv6 needs brackets, see
    /// [`Authority`]).
    fn parse_name_or_ipv4(text: &str) -> Result<Self, ParseError> {
        // A fully qualified `localhost.` is the same host as `localhost`.
        let trimmed = text.strip_suffix('.').unwrap_or(text);
        if let Ok(ip) = trimmed.parse::<Ipv4Addr>() {
            return Ok(Host::Ip(IpAddr::V4(ip)));
        }
        let valid = !trimmed.is_empty()
            && trimmed.len() <= 253
            && trimmed.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
            });
        if valid {
            Ok(Host::Name(trimmed.to_ascii_lowercase()))
        } else {
            Err(ParseError::Host(quote(text)))
        }
    }

    /// True for names and addresses that always mean this machine:
    /// `localhost`, `*.localhost` (RFC 6761), 127.0.0.0/8 and `::1`.
    pub fn is_loopback(&self) -> bool {
        match self {
            Host::Name(name) => name == "localhost" || name.ends_with(".localhost"),
            Host::Ip(ip) => is_loopback_ip(*ip),
        }
    }

    /// Parses a host given in the configuration: a name or an IP address
    /// (IPv6 with or without brackets), without a port.
    pub fn parse_public(text: &str) -> Result<Self, ParseError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ParseError::Empty);
        }
        if let Ok(ip) = text.parse::<Ipv6Addr>() {
            return Ok(Host::Ip(IpAddr::V6(ip)));
        }
        let authority: Authority = text.parse()?;
        if authority.port.is_some() || text.ends_with(':') {
            return Err(ParseError::UnwantedPort(quote(text)));
        }
        Ok(authority.host)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// True for 127.0.0.0/8, `::1` and `::ffff:127.x.x.x`.
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// What a `Host` header holds: a host and an optional port
/// (`example.com`, `127.0.0.1:3000`, `[::1]:3000`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// The host.
    pub host: Host,
    /// The port, when one was given.
    pub port: Option<u16>,
}

impl FromStr for Authority {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        if text.is_empty() {
            return Err(ParseError::Empty);
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| ParseError::Host(quote(text)))?;
            let ip: Ipv6Addr = inside.parse().map_err(|_| ParseError::Host(quote(text)))?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| ParseError::Host(quote(text)))?,
                ),
            };
            (Host::Ip(IpAddr::V6(ip)), port)
        } else {
            let (host, port) = match text.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            };
            // An IPv6 address without brackets cannot be told from its port.
            if host.contains(':') {
                return Err(ParseError::Host(quote(text)));
            }
            (Host::parse_name_or_ipv4(host)?, port)
        };
        Ok(Authority {
            host,
            port: port.map(parse_port).transpose()?.flatten(),
        })
    }
}

/// A port after `:`; an empty one (`host:`) means none (RFC 3986).
fn parse_port(text: &str) -> Result<Option<u16>, ParseError> {
    if text.is_empty() {
        return Ok(None);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Port(quote(text)));
    }
    text.parse()
        .map(Some)
        .map_err(|_| ParseError::Port(quote(text)))
}

/// The schemes a web origin of livedash can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`
    Http,
    /// `https`
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

/// A web origin, as browsers send it in `Origin`: scheme, host and port
/// (the scheme's default when none is written).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: Scheme,
    host: Host,
    port: u16,
}

impl Origin {
    /// True when a page of this origin is the one that was loaded from
    /// `authority` (a request's `Host`), over either scheme.
    pub fn is_served_at(&self, authority: &Authority) -> bool {
        self.host == authority.host
            && self.port == authority.port.unwrap_or(self.scheme.default_port())
    }
}

impl FromStr for Origin {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        let invalid = || ParseError::Origin(quote(text));
        let (scheme, rest) = text.split_once("://").ok_or_else(invalid)?;
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(invalid());
        };
        if rest.contains(['/', '?', '#', '@']) {
            return Err(invalid());
        }
        let authority: Authority = rest.parse().map_err(|_| invalid())?;
        Ok(Origin {
            scheme,
            port: authority.port.unwrap_or(scheme.default_port()),
            host: authority.host,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}", self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// One entry of `--allowed-origins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigin {
    /// `*`: pages of any origin may publish and open WebSockets.
    Any,
    /// Pages of this origin may.
    Origin(Origin),
}

impl FromStr for AllowedOrigin {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        match text.trim() {
            "" => Err(ParseError::Empty),
            "*" => Ok(AllowedOrigin::Any),
            origin => origin.parse().map(AllowedOrigin::Origin),
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An HTTP/1.1 (or later) request without `Host`.
    #[error("the request has no Host header")]
    MissingHost,
    /// A `Host` header that cannot be read, or more than one.
    #[error("the Host header is invalid: {reason}")]
    InvalidHost {
        /// What was wrong.
        reason: String,
    },
    /// A `Host` this server does not answer for (DNS rebinding).
    #[error("host {host:?} is not one this server answers for")]
    HostNotAllowed {
        /// The host as the request named it.
        host: String,
    },
    /// An `Origin` that may not act on this server.
    #[error("origin {origin:?} is not allowed")]
    OriginNotAllowed {
        /// The origin as the request named it.
        origin: String,
    },
}

/// Which pages may act on this server and which hosts it answers for.
/// Built once from the configuration; cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// `--allowed-origins *`.
    any_origin: bool,
    /// Origins allowed besides the one a request is served under.
    allowed_origins: Vec<Origin>,
    /// `None`: any `Host`. `Some(hosts)`: loopback names and these.
    hosts: Option<Vec<Host>>,
}

impl OriginPolicy {
    /// The policy for a server bound to `bound`, with the configured allowed
    /// origins and public hosts.
    pub fn new(allowed: &[AllowedOrigin], public_hosts: &[Host], bound: IpAddr) -> Self {
        let any_origin = allowed.contains(&AllowedOrigin::Any);
        let allowed_origins = allowed
            .iter()
            .filter_map(|entry| match entry {
                AllowedOrigin::Any => None,
                AllowedOrigin::Origin(origin) => Some(origin.clone()),
            })
            .collect();
        let hosts =
            (is_loopback_ip(bound) || !public_hosts.is_empty()).then(|| public_hosts.to_vec());
        OriginPolicy {
            any_origin,
            allowed_origins,
            hosts,
        }
    }

    /// True when requests naming hosts other than loopback ones and the
    /// public hosts are refused.
    pub fn checks_host(&self) -> bool {
        self.hosts.is_some()
    }

    /// Checks a request's `Host` and, when it acts, its `Origin`.
    pub fn check<B>(&self, request: &Request<B>) -> Result<(), Refusal> {
        let authority = request_authority(request)?;
        if let (Some(hosts), Some(authority)) = (&self.hosts, &authority) {
            if !authority.host.is_loopback() && !hosts.contains(&authority.host) {
                return Err(Refusal::HostNotAllowed {
                    host: authority.host.to_string(),
                });
            }
        }
        if acts(request.method(), request.headers()) {
            self.check_origin(request.headers(), authority.as_ref())?;
        }
        Ok(())
    }

    fn check_origin(
        &self,
        headers: &HeaderMap,
        authority: Option<&Authority>,
    ) -> Result<(), Refusal> {
        let mut values = headers.get_all(header::ORIGIN).iter();
        let Some(value) = values.next() else {
            return Ok(());
        };
        if self.any_origin {
            return Ok(());
        }
        let text = String::from_utf8_lossy(value.as_bytes());
        let refused = || Refusal::OriginNotAllowed {
            origin: quote(&text),
        };
        // No browser sends two; a client that does is not trusted with either.
        if values.next().is_some() {
            return Err(refused());
        }
        let origin: Origin = text.parse().map_err(|_| refused())?;
        let same_origin = authority.is_some_and(|a| origin.is_served_at(a));
        if same_origin || self.allowed_origins.contains(&origin) {
            Ok(())
        } else {
            Err(refused())
        }
    }
}

/// True for requests that change something or open a two-way channel: any
/// method but `GET`, `HEAD` and `OPTIONS` (publishing; WebSockets over
/// HTTP/2 use `CONNECT`), and any upgrade (WebSockets over HTTP/1.1).
fn acts(method: &Method, headers: &HeaderMap) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || headers.contains_key(header::UPGRADE)
}

/// The host and port a request was sent to: the request target's authority
/// when it has one (HTTP/2, absolute-form targets, where it wins over `Host`
/// per RFC 9112), otherwise the one `Host` header. HTTP/1.0 may omit it.
fn request_authority<B>(request: &Request<B>) -> Result<Option<Authority>, Refusal> {
    let invalid = |reason: String| Refusal::InvalidHost { reason };
    if let Some(authority) = request.uri().authority() {
        let text = authority.as_str();
        let without_user = text.rsplit_once('@').map_or(text, |(_, host)| host);
        return without_user
            .parse()
            .map(Some)
            .map_err(|e: ParseError| invalid(e.to_string()));
    }
    let mut values = request.headers().get_all(header::HOST).iter();
    let Some(value) = values.next() else {
        return match request.version() {
            Version::HTTP_09 | Version::HTTP_10 => Ok(None),
            _ => Err(Refusal::MissingHost),
        };
    };
    if values.next().is_some() {
        return Err(invalid("there is more than one".to_string()));
    }
    let text = value
        .to_str()
        .map_err(|_| invalid("it is not visible ASCII".to_string()))?;
    text.parse()
        .map(Some)
        .map_err(|e: ParseError| invalid(e.to_string()))
}

/// `text`, cut to a length fit for an error message or a log line.
fn quote(text: &str) -> String {
    text.chars().take(MAX_QUOTED).collect()
}

/// What [`guard`] needs: the policy and the counters its refusals go to.
#[derive(Debug, Clone)]
pub struct OriginGuard {
    /// The policy.
    pub policy: Arc<OriginPolicy>,
    /// Where refusals are counted.
    pub counters: Arc<Counters>,
}

/// Middleware: passes requests the policy allows on, answers the others
/// with an error (400, 403 or 421).
pub async fn guard(State(guard): State<OriginGuard>, request: Request, next: Next) -> Response {
    match guard.counters.refused(guard.policy.check(&request)) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            let shown = |name: HeaderName| {
                request.headers().get(name).map_or_else(
                    || "(none)".to_string(),
                    |v| quote(&String::from_utf8_lossy(v.as_bytes())),
                )
            };
            let error = ApiError::from(refusal);
            tracing::debug!(
                code = error.code(),
                method = %request.method(),
                path = request.uri().path(),
                host = shown(header::HOST),
                origin = shown(header::ORIGIN),
                "request refused by the same-origin policy"
            );
            error.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(text: &str) -> Authority {
        text.parse().unwrap()
    }

    fn origin(text: &str) -> Origin {
        text.parse().unwrap()
    }

    fn name(text: &str) -> Host {
        Host::Name(text.to_string())
    }

    fn request(method: Method, host: Option<&str>, origin: Option<&str>) -> Request<()> {
        let mut builder = Request::builder()
            .method(method)
            .uri("/api/realtime/events");
        if let Some(host) = host {
            builder = builder.header(header::HOST, host);
        }
        if let Some(origin) = origin {
            builder = builder.header(header::ORIGIN, origin);
        }
        builder.body(()).unwrap()
    }

    fn loopback_policy(allowed: &[&str], public_hosts: &[&str]) -> OriginPolicy {
        let allowed: Vec<AllowedOrigin> = allowed.iter().map(|o| o.parse().unwrap()).collect();
        let hosts: Vec<Host> = public_hosts
            .iter()
            .map(|h| Host::parse_public(h).unwrap())
            .collect();
        OriginPolicy::new(&allowed, &hosts, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    #[test]
    fn authorities_split_host_and_port_with_ipv6_in_brackets() {
        assert_eq!(
            authority("127.0.0.1:3000"),
            Authority {
                host: Host::Ip("127.0.0.1".parse().unwrap()),
                port: Some(3000)
            }
        );
        assert_eq!(
            authority("[::1]:8080"),
            Authority {
                host: Host::Ip("::1".parse().unwrap()),
                port: Some(8080)
            }
        );
        assert_eq!(authority("[::1]").port, None);
        assert_eq!(authority("example.com").port, None);
        assert_eq!(
            authority("example.com:").port,
            None,
            "an empty port is none"
        );
        for invalid in [
            "",
            "::1",
            "[::1",
            "[::1]x",
            "[::1]:x",
            "[zz::1]:80",
            "example.com:http",
            "example.com:70000",
            "exa mple.com",
            "a..b",
            "user@example.com",
            "example.com/path",
        ] {
            assert!(invalid.parse::<Authority>().is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn host_names_are_compared_without_case_or_trailing_dot() {
        assert_eq!(
            authority("Dash.Example.COM:443").host,
            name("dash.example.com")
        );
        assert_eq!(authority("localhost.:3000").host, name("localhost"));
        assert_eq!(
            Host::parse_public("DASH.example.com").unwrap(),
            name("dash.example.com")
        );
    }

    #[test]
    fn loopback_names_are_localhost_its_subdomains_and_loopback_addresses() {
        for host in [
            "localhost",
            "LOCALHOST",
            "app.localhost",
            "a.b.localhost",
            "127.0.0.1",
            "127.8.9.10",
            "[::1]",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(authority(host).host.is_loopback(), "{host}");
        }
        for host in [
            "localhost.example.com",
            "notlocalhost",
            "127.0.0.1.nip.io",
            "128.0.0.1",
            "10.0.0.1",
            "[::2]",
            "evil.example",
        ] {
            assert!(!authority(host).host.is_loopback(), "{host}");
        }
    }

    #[test]
    fn origins_normalise_case_and_default_ports() {
        assert_eq!(
            origin("HTTPS://Dash.Example.com"),
            origin("https://dash.example.com:443")
        );
        assert_eq!(
            origin("http://example.com:80").to_string(),
            "http://example.com"
        );
        assert_eq!(origin("http://[::1]:3000").to_string(), "http://[::1]:3000");
        assert_ne!(origin("http://example.com"), origin("https://example.com"));
        for invalid in [
            "foo",
            "null",
            "example.com",
            "ftp://example.com",
            "https://",
            "https://example.com/",
            "https://example.com/path",
            "https://user@example.com",
            "https://example.com:port",
            "chrome-extension://abcdef",
        ] {
            assert!(invalid.parse::<Origin>().is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn an_origin_is_served_at_the_host_and_port_the_request_names() {
        let at = |o: &str, a: &str| origin(o).is_served_at(&authority(a));
        assert!(at("http://127.0.0.1:3000", "127.0.0.1:3000"));
        assert!(at("http://LOCALHOST:3000", "localhost:3000"));
        assert!(at("https://dash.example.com", "dash.example.com"));
        assert!(at("http://dash.example.com", "dash.example.com:80"));
        assert!(at("http://[::1]:3000", "[::1]:3000"));
        assert!(!at("http://127.0.0.1:3001", "127.0.0.1:3000"));
        assert!(!at("http://localhost:3000", "127.0.0.1:3000"));
        assert!(!at("https://dash.example.com", "dash.example.com:80"));
        assert!(!at("http://evil.example:3000", "127.0.0.1:3000"));
    }

    #[test]
    fn allowed_origins_and_public_hosts_are_parsed_for_the_configuration() {
        assert_eq!("*".parse::<AllowedOrigin>(), Ok(AllowedOrigin::Any));
        assert_eq!(
            " https://dash.example.com ".parse::<AllowedOrigin>(),
            Ok(AllowedOrigin::Origin(origin("https://dash.example.com")))
        );
        assert!("".parse::<AllowedOrigin>().is_err());
        assert_eq!(
            Host::parse_public("fd00::1"),
            Ok(Host::Ip("fd00::1".parse().unwrap()))
        );
        assert_eq!(
            Host::parse_public("[fd00::1]"),
            Ok(Host::Ip("fd00::1".parse().unwrap()))
        );
        for invalid in [
            "",
            "dash.example.com:443",
            "dash.example.com:",
            "*",
            "https://dash.example.com",
        ] {
            assert!(Host::parse_public(invalid).is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn a_loopback_bound_server_answers_only_loopback_and_public_hosts() {
        let policy = loopback_policy(&[], &["dash.example.com"]);
        for host in [
            "localhost:3000",
            "127.0.0.1:3000",
            "[::1]:3000",
            "x.localhost",
            "DASH.example.com:8443",
        ] {
            assert_eq!(
                policy.check(&request(Method::GET, Some(host), None)),
                Ok(()),
                "{host}"
            );
        }
        assert_eq!(
            policy.check(&request(Method::GET, Some("evil.example:3000"), None)),
            Err(Refusal::HostNotAllowed {
                host: "evil.example".to_string()
            })
        );
    }

    #[test]
    fn a_server_bound_elsewhere_checks_hosts_only_when_public_hosts_are_set() {
        let anywhere = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let open = OriginPolicy::new(&[], &[], anywhere);
        assert!(!open.checks_host());
        assert_eq!(
            open.check(&request(Method::GET, Some("evil.example"), None)),
            Ok(())
        );

        let named = OriginPolicy::new(&[], &[name("dash.example.com")], anywhere);
        assert!(named.checks_host());
        assert!(named
            .check(&request(Method::GET, Some("dash.example.com"), None))
            .is_ok());
        assert!(named
            .check(&request(Method::GET, Some("localhost"), None))
            .is_ok());
        assert!(named
            .check(&request(Method::GET, Some("evil.example"), None))
            .is_err());

        let v6_loopback = OriginPolicy::new(&[], &[], "::1".parse().unwrap());
        assert!(v6_loopback.checks_host());
    }

    #[test]
    fn a_missing_or_unreadable_host_is_refused_except_on_http_1_0() {
        let policy = OriginPolicy::new(&[], &[], IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(
            policy.check(&request(Method::GET, None, None)),
            Err(Refusal::MissingHost)
        );
        let mut old = request(Method::GET, None, None);
        *old.version_mut() = Version::HTTP_10;
        assert_eq!(policy.check(&old), Ok(()));
        assert!(matches!(
            policy.check(&request(Method::GET, Some("a b"), None)),
            Err(Refusal::InvalidHost { .. })
        ));
        let mut twice = request(Method::GET, Some("localhost"), None);
        twice
            .headers_mut()
            .append(header::HOST, "evil.example".parse().unwrap());
        assert!(matches!(
            policy.check(&twice),
            Err(Refusal::InvalidHost { .. })
        ));
    }

    #[test]
    fn the_request_target_authority_wins_over_the_host_header() {
        let policy = loopback_policy(&[], &[]);
        let request = Request::builder()
            .uri("http://evil.example/api/realtime/poll")
            .header(header::HOST, "localhost")
            .body(())
            .unwrap();
        assert!(matches!(
            policy.check(&request),
            Err(Refusal::HostNotAllowed { .. })
        ));
    }

    #[test]
    fn acting_requests_need_no_origin_their_own_or_an_allowed_one() {
        let policy = loopback_policy(&["https://dash.example.com"], &["dash.example.com"]);
        let post = |host: &str, origin: Option<&str>| {
            policy.check(&request(Method::POST, Some(host), origin))
        };
        assert_eq!(post("127.0.0.1:3000", None), Ok(()));
        assert_eq!(
            post("127.0.0.1:3000", Some("http://127.0.0.1:3000")),
            Ok(())
        );
        assert_eq!(
            post("127.0.0.1:3000", Some("https://dash.example.com")),
            Ok(())
        );
        assert_eq!(
            post("dash.example.com", Some("https://dash.example.com")),
            Ok(())
        );
        for foreign in [
            "http://127.0.0.1:3001",
            "https://evil.example",
            "http://dash.example.com",
            "null",
            "garbage",
        ] {
            assert_eq!(
                post("127.0.0.1:3000", Some(foreign)),
                Err(Refusal::OriginNotAllowed {
                    origin: foreign.to_string()
                }),
                "{foreign}"
            );
        }
        let mut two = request(
            Method::POST,
            Some("127.0.0.1:3000"),
            Some("http://127.0.0.1:3000"),
        );
        two.headers_mut()
            .append(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(policy.check(&two).is_err(), "two Origin headers");
    }

    #[test]
    fn plain_reads_are_not_origin_checked_but_upgrades_are() {
        let policy = loopback_policy(&[], &[]);
        let foreign = Some("https://evil.example");
        assert_eq!(
            policy.check(&request(Method::GET, Some("localhost"), foreign)),
            Ok(())
        );
        let mut upgrade = request(Method::GET, Some("localhost"), foreign);
        upgrade
            .headers_mut()
            .insert(header::UPGRADE, "websocket".parse().unwrap());
        assert!(matches!(
            policy.check(&upgrade),
            Err(Refusal::OriginNotAllowed { .. })
        ));
        assert!(policy
            .check(&request(Method::CONNECT, Some("localhost"), foreign))
            .is_err());
    }

    #[test]
    fn a_star_allows_every_origin() {
        let policy = loopback_policy(&["*"], &[]);
        for origin in ["https://evil.example", "null"] {
            assert_eq!(
                policy.check(&request(Method::POST, Some("localhost"), Some(origin))),
                Ok(())
            );
        }
        assert!(
            policy
                .check(&request(Method::POST, Some("evil.example"), None))
                .is_err(),
            "the host check still applies"
        );
    }
}
