//! `--change`: Dockerfile instructions applied to an image config, as
//! `docker import --change` and `docker commit --change` take them.

use oci_spec::image::Config;

/// Why a `--change` was refused, in docker's words.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// Not among docker's `validCommitCommands` (moby's builder).
    #[error("{0} is not a valid change command")]
    Invalid(String),
    /// Valid for docker, but stored in docker's own config extensions,
    /// which an OCI image config has no field for.
    #[error(
        "{0} is not supported with --change: the OCI image config has no field for it (supported: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)"
    )]
    Unsupported(String),
    #[error("dockerfile parse error on line 1: {0} requires at least one argument")]
    Empty(String),
    #[error("dockerfile parse error on line 1: {0} names can not be blank")]
    Blank(String),
    #[error("invalid containerPort: {0}")]
    Port(String),
    #[error("Invalid signal: {0}")]
    Signal(String),
}

/// Applies one instruction (`CMD ["sh"]`, `ENV A=1 B=2`, `EXPOSE 80/udp`,
/// ...) to `config`, as docker's builder does for `commit` and `import`.
pub fn apply(config: &mut Config, instruction: &str) -> Result<(), ChangeError> {
    let instruction = instruction.trim();
    let (word, rest) = instruction
        .split_once(char::is_whitespace)
        .unwrap_or((instruction, ""));
    let rest = rest.trim();
    let keyword = word.to_ascii_uppercase();
    match keyword.as_str() {
        "CMD" | "ENTRYPOINT" | "ENV" | "EXPOSE" | "LABEL" | "STOPSIGNAL" | "USER" | "VOLUME"
        | "WORKDIR" => {}
        "ONBUILD" | "HEALTHCHECK" => return Err(ChangeError::Unsupported(keyword)),
        _ => return Err(ChangeError::Invalid(word.to_string())),
    }
    if rest.is_empty() {
        return Err(ChangeError::Empty(keyword));
    }
    match keyword.as_str() {
        "CMD" => {
            config.set_cmd(Some(command(rest)));
        }
        "ENTRYPOINT" => {
            config.set_entrypoint(Some(command(rest)));
        }
        "WORKDIR" => {
            config.set_working_dir(Some(rest.to_string()));
        }
        "USER" => {
            config.set_user(Some(rest.to_string()));
        }
        "ENV" => {
            let mut env = config.env().clone().unwrap_or_default();
            for (key, value) in pairs(rest, "ENV")? {
                env.retain(|kv| kv.split('=').next() != Some(key.as_str()));
                env.push(format!("{key}={value}"));
            }
            config.set_env(Some(env));
        }
        "LABEL" => {
            let mut labels = config.labels().clone().unwrap_or_default();
            labels.extend(pairs(rest, "LABEL")?);
            config.set_labels(Some(labels));
        }
        "EXPOSE" => {
            let mut ports = config.exposed_ports().clone().unwrap_or_default();
            for spec in rest.split_whitespace() {
                for port in exposed_ports(spec)? {
                    if !ports.contains(&port) {
                        ports.push(port);
                    }
                }
            }
            ports.sort();
            config.set_exposed_ports(Some(ports));
        }
        "VOLUME" => {
            let mut volumes = config.volumes().clone().unwrap_or_default();
            let paths = serde_json::from_str::<Vec<String>>(rest)
                .unwrap_or_else(|_| rest.split_whitespace().map(str::to_string).collect());
            for path in paths {
                if path.is_empty() {
                    return Err(ChangeError::Empty("VOLUME".into()));
                }
                if !volumes.contains(&path) {
                    volumes.push(path);
                }
            }
            volumes.sort();
            config.set_volumes(Some(volumes));
        }
        _ => {
            // STOPSIGNAL: docker checks it names a signal, and keeps it as given.
            crate::commands::lifecycle::parse_signal(rest)
                .map_err(|_| ChangeError::Signal(rest.to_string()))?;
            config.set_stop_signal(Some(rest.to_string()));
        }
    }
    Ok(())
}

/// `80`, `53/udp` or a range `8000-8002/tcp` as the config's `PORT/PROTO`
/// keys (docker's nat.ParsePortSpecs: the protocol defaults to tcp).
fn exposed_ports(spec: &str) -> Result<Vec<String>, ChangeError> {
    let (range, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    let bad = || ChangeError::Port(range.to_string());
    let port = |text: &str| text.parse::<u16>().map_err(|_| bad());
    let (first, last) = match range.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(range)?, port(range)?),
    };
    if last < first {
        return Err(bad());
    }
    Ok((first..=last).map(|p| format!("{p}/{proto}")).collect())
}

/// The exec form `["a", "b"]` as it is; the shell form `a b` as `/bin/sh -c "a b"`.
fn command(text: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(text)
        .unwrap_or_else(|_| vec!["/bin/sh".into(), "-c".into(), text.into()])
}

/// `A=1 B="two words"`, or the legacy `A one value` (ENV's and LABEL's forms).
fn pairs(text: &str, what: &str) -> Result<Vec<(String, String)>, ChangeError> {
    let first = text.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let value = text[first.len()..].trim();
        return Ok(vec![(first.to_string(), value.to_string())]);
    }
    let mut pairs = Vec::new();
    for word in shell_words(text) {
        let (key, value) = word.split_once('=').unwrap_or((&word, ""));
        if key.is_empty() {
            return Err(ChangeError::Blank(what.into()));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

/// Splits on white space outside double or single quotes, dropping the quotes.
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => word.extend(chars.next()),
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_change_the_config() {
        let mut config = Config::default();
        apply(&mut config, r#"CMD ["sh", "-c", "echo hi"]"#).unwrap();
        apply(&mut config, "ENTRYPOINT /bin/app --flag").unwrap();
        apply(&mut config, r#"ENV A=1 B="two words""#).unwrap();
        apply(&mut config, "ENV A again").unwrap();
        apply(&mut config, "workdir /srv").unwrap();
        assert_eq!(config.cmd().as_deref().unwrap(), ["sh", "-c", "echo hi"]);
        assert_eq!(
            config.entrypoint().as_deref().unwrap(),
            ["/bin/sh", "-c", "/bin/app --flag"]
        );
        assert_eq!(config.env().as_deref().unwrap(), ["B=two words", "A=again"]);
        assert_eq!(config.working_dir().as_deref(), Some("/srv"));
        assert_eq!(
            apply(&mut config, "frob x").unwrap_err().to_string(),
            "frob is not a valid change command"
        );
        assert!(apply(&mut config, "CMD").is_err());
    }

    #[test]
    fn metadata_instructions_fill_the_oci_fields() {
        let mut config = Config::default();
        apply(&mut config, r#"LABEL a=1 "b"="two words""#).unwrap();
        apply(&mut config, "LABEL a=one").unwrap();
        apply(&mut config, "EXPOSE 80 53/UDP 8000-8001").unwrap();
        apply(&mut config, "EXPOSE 80/tcp").unwrap();
        apply(&mut config, r#"VOLUME ["/data"]"#).unwrap();
        apply(&mut config, "VOLUME /logs /data").unwrap();
        apply(&mut config, "STOPSIGNAL SIGQUIT").unwrap();
        let labels = config.labels().clone().unwrap();
        assert_eq!(labels.get("a").map(String::as_str), Some("one"));
        assert_eq!(labels.get("b").map(String::as_str), Some("two words"));
        assert_eq!(
            config.exposed_ports().as_deref().unwrap(),
            ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]
        );
        assert_eq!(config.volumes().as_deref().unwrap(), ["/data", "/logs"]);
        assert_eq!(config.stop_signal().as_deref(), Some("SIGQUIT"));
        for (bad, error) in [
            ("EXPOSE 99999", "invalid containerPort: 99999"),
            ("STOPSIGNAL SIGNOPE", "Invalid signal: SIGNOPE"),
            (
                "LABEL =x",
                "dockerfile parse error on line 1: LABEL names can not be blank",
            ),
            ("RUN true", "RUN is not a valid change command"),
        ] {
            assert_eq!(apply(&mut config, bad).unwrap_err().to_string(), error);
        }
        assert!(matches!(
            apply(&mut config, "ONBUILD RUN true"),
            Err(ChangeError::Unsupported(_))
        ));
    }
}
