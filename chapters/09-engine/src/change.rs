//! `--change`: Dockerfile instructions applied to an image config, as
//! `docker import --change` and `docker commit --change` take them.

use oci_spec::image::Config;

/// Why a `--change` was refused, in docker's words.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("dockerfile parse error on line 1: unknown instruction: {0}")]
    Unknown(String),
    #[error("{0} is not supported with --change (supported: CMD, ENTRYPOINT, ENV, USER, WORKDIR)")]
    Unsupported(String),
    #[error("dockerfile parse error on line 1: {0} requires at least one argument")]
    Empty(String),
    #[error("dockerfile parse error on line 1: ENV names can not be blank")]
    BlankEnv,
}

/// Applies one instruction (`CMD ["sh"]`, `ENV A=1 B=2`, `WORKDIR /app`, ...) to `config`.
pub fn apply(config: &mut Config, instruction: &str) -> Result<(), ChangeError> {
    let instruction = instruction.trim();
    let (word, rest) = instruction
        .split_once(char::is_whitespace)
        .unwrap_or((instruction, ""));
    let rest = rest.trim();
    let keyword = word.to_ascii_uppercase();
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
            for (key, value) in env_pairs(rest)? {
                env.retain(|kv| kv.split('=').next() != Some(key.as_str()));
                env.push(format!("{key}={value}"));
            }
            config.set_env(Some(env));
        }
        "EXPOSE" | "LABEL" | "ONBUILD" | "VOLUME" | "STOPSIGNAL" => {
            return Err(ChangeError::Unsupported(keyword));
        }
        _ => return Err(ChangeError::Unknown(keyword)),
    }
    Ok(())
}

/// The exec form `["a", "b"]` as it is; the shell form `a b` as `/bin/sh -c "a b"`.
fn command(text: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(text)
        .unwrap_or_else(|_| vec!["/bin/sh".into(), "-c".into(), text.into()])
}

/// `A=1 B="two words"`, or the legacy `A one value`.
fn env_pairs(text: &str) -> Result<Vec<(String, String)>, ChangeError> {
    let first = text.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let value = text[first.len()..].trim();
        return Ok(vec![(first.to_string(), value.to_string())]);
    }
    let mut pairs = Vec::new();
    for word in shell_words(text) {
        let (key, value) = word.split_once('=').unwrap_or((&word, ""));
        if key.is_empty() {
            return Err(ChangeError::BlankEnv);
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
            apply(&mut config, "FROB x").unwrap_err().to_string(),
            "dockerfile parse error on line 1: unknown instruction: FROB"
        );
        assert!(apply(&mut config, "CMD").is_err());
    }
}
