//! Published ports: `-p`, `-P` and `--expose`, parsed with docker's rules and words.
//!
//! A spec is `[[IP:][HOST]:]CONTAINER[/PROTO]`, where HOST and CONTAINER may be
//! ranges (`8000-8009:80-89`), an IPv6 IP is written in brackets, and PROTO is
//! tcp (the default), udp or sctp. An empty HOST (`-p 80`, `-p 127.0.0.1::80`)
//! means "any free port", as does `-P` for each `--expose`d port. This follows
//! `ParsePortSpec` of docker's go-connections `nat` package, errors included.

use std::fmt;
use std::net::IpAddr;

/// Why a port spec was refused; docker's messages.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PortError {
    /// The IP part is not an address.
    #[error("invalid IP address: {0}")]
    BadIp(String),
    /// Nothing after the last `:`.
    #[error("no port specified: {0}<empty>")]
    NoPort(String),
    /// The container part is not a port or a range.
    #[error("invalid containerPort: {0}")]
    BadContainerPort(String),
    /// The host part is not a port or a range.
    #[error("invalid hostPort: {0}")]
    BadHostPort(String),
    /// Both are ranges, of different lengths.
    #[error("invalid ranges specified for container and host Ports: {container} and {host}")]
    RangeMismatch { container: String, host: String },
    /// Not tcp, udp or sctp.
    #[error("invalid proto: {0}")]
    BadProto(String),
}

/// The transport protocol of a published port.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP, the default.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Proto {
    /// The name iptables and docker use: `tcp`, `udp`, `sctp`.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One container port to publish, as asked for: its host port may still be open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    /// The host address to listen on; `None` is every address (0.0.0.0).
    pub host_ip: Option<IpAddr>,
    /// The host ports it may get: one port, a range to pick a free one from,
    /// or `None` for any free port.
    pub host_ports: Option<(u16, u16)>,
    /// The port inside the container.
    pub container_port: u16,
    /// Its protocol.
    pub proto: Proto,
}

// ANCHOR: parse_publish
/// Parses one `-p` value into the ports it publishes (a range gives several).
pub fn parse_publish(raw: &str) -> Result<Vec<PortRequest>, PortError> {
    let (ip, host, container) = split_parts(raw);
    let (proto, container) = split_proto(container);
    let ip = match ip {
        "" => None,
        ip => {
            let bare = ip
                .strip_prefix('[')
                .and_then(|i| i.strip_suffix(']'))
                .unwrap_or(ip);
            Some(
                bare.parse::<IpAddr>()
                    .map_err(|_| PortError::BadIp(ip.to_string()))?,
            )
        }
    };
    if container.is_empty() {
        return Err(PortError::NoPort(raw.to_string()));
    }
    let (start, end) =
        parse_range(container).ok_or_else(|| PortError::BadContainerPort(container.into()))?;
    let host_range = match host {
        "" => None,
        host => Some(parse_range(host).ok_or_else(|| PortError::BadHostPort(host.into()))?),
    };
    if let Some((hs, he)) = host_range {
        // A host range with one container port is a range to pick a free port from.
        if he - hs != end - start && end != start {
            return Err(PortError::RangeMismatch {
                container: container.into(),
                host: host.into(),
            });
        }
    }
    let proto = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "sctp" => Proto::Sctp,
        _ => return Err(PortError::BadProto(proto.to_string())),
    };
    Ok((start..=end)
        .enumerate()
        .map(|(i, container_port)| PortRequest {
            host_ip: ip,
            host_ports: host_range.map(|(hs, he)| match end == start {
                true => (hs, he),
                false => (hs + i as u16, hs + i as u16),
            }),
            container_port,
            proto,
        })
        .collect())
}
// ANCHOR_END: parse_publish

/// Parses an `--expose` value (`80`, `8000-8010`, `53/udp`): the ports `-P` publishes.
pub fn parse_expose(raw: &str) -> Result<Vec<(u16, Proto)>, PortError> {
    if raw.contains(':') {
        return Err(PortError::BadContainerPort(raw.to_string()));
    }
    Ok(parse_publish(raw)?
        .into_iter()
        .map(|r| (r.container_port, r.proto))
        .collect())
}

// ANCHOR: split
/// `ip:host:container` -> its three parts; an IPv6 ip keeps its colons.
fn split_parts(raw: &str) -> (&str, &str, &str) {
    // LAB: split on ':': one part is ("", "", it); two are ("", host, container); with more, the last two are host and container and everything before them (colons included, as in "[::1]") is the ip: slice raw rather than join
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    match n {
        1 => ("", "", parts[0]),
        2 => ("", parts[0], parts[1]),
        _ => {
            let ip_len = raw.len() - parts[n - 2].len() - parts[n - 1].len() - 2;
            (&raw[..ip_len], parts[n - 2], parts[n - 1])
        }
    }
    // LAB: END
}

/// `80/udp` -> ("udp", "80"); `80` and `80/` -> ("tcp", "80").
fn split_proto(raw: &str) -> (&str, &str) {
    // LAB: return (proto, port): "80/udp" -> ("udp", "80"); no '/' or nothing after it -> ("tcp", the port)
    match raw.split_once('/') {
        None => ("tcp", raw),
        Some((port, "")) => ("tcp", port),
        Some((port, proto)) => (proto, port),
    }
    // LAB: END
}

/// `80` -> (80, 80); `8000-8010` -> (8000, 8010); None if not ports or reversed.
fn parse_range(text: &str) -> Option<(u16, u16)> {
    // LAB: "80" -> Some((80, 80)); "8000-8010" -> Some((8000, 8010)); None when a side is not a u16 or the range is reversed
    let (start, end) = text.split_once('-').unwrap_or((text, text));
    let (start, end) = (start.parse::<u16>().ok()?, end.parse::<u16>().ok()?);
    (start <= end).then_some((start, end))
    // LAB: END
}
// ANCHOR_END: split

#[cfg(test)]
mod tests {
    use super::*;

    fn one(raw: &str) -> PortRequest {
        let mut all = parse_publish(raw).unwrap();
        assert_eq!(all.len(), 1, "{raw}");
        all.remove(0)
    }

    #[test]
    fn the_forms_docker_accepts() {
        let r = one("8080:80");
        assert_eq!(
            (r.host_ip, r.host_ports, r.container_port, r.proto),
            (None, Some((8080, 8080)), 80, Proto::Tcp)
        );
        let r = one("127.0.0.1:8080:80/udp");
        assert_eq!(r.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(r.proto, Proto::Udp);
        let r = one("127.0.0.1::80");
        assert_eq!(r.host_ports, None);
        let r = one("80");
        assert_eq!((r.host_ip, r.host_ports), (None, None));
        let r = one("[::1]:8080:80/TCP");
        assert_eq!(r.host_ip, Some("::1".parse().unwrap()));
        let r = one("8000-8010:80");
        assert_eq!(r.host_ports, Some((8000, 8010)));
        let all = parse_publish("8000-8001:80-81").unwrap();
        assert_eq!(
            all.iter()
                .map(|r| (r.host_ports, r.container_port))
                .collect::<Vec<_>>(),
            [(Some((8000, 8000)), 80), (Some((8001, 8001)), 81)]
        );
        assert_eq!(parse_expose("53/udp").unwrap(), [(53, Proto::Udp)]);
    }

    #[test]
    fn the_errors_docker_gives() {
        let err = |raw: &str| parse_publish(raw).unwrap_err().to_string();
        assert_eq!(err("abc"), "invalid containerPort: abc");
        assert_eq!(err("x:80"), "invalid hostPort: x");
        assert_eq!(err("1.2.3:80:80"), "invalid IP address: 1.2.3");
        assert_eq!(err("8080:"), "no port specified: 8080:<empty>");
        assert_eq!(err("80/icmp"), "invalid proto: icmp");
        assert_eq!(err("70000"), "invalid containerPort: 70000");
        assert_eq!(err("90-80"), "invalid containerPort: 90-80");
        assert_eq!(
            err("8000-8002:80-81"),
            "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"
        );
    }
}
