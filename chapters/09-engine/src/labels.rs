//! Labels: docker's free-form `KEY=VALUE` metadata, read from flags, shown
//! and filtered the same way on containers and networks.

use std::collections::BTreeMap;

use crate::template::Value;

/// A flag's `KEY=VALUE`, or `KEY` alone for an empty value, as docker's
/// `--label` reads it.
pub fn parse(label: &str) -> (String, String) {
    let (key, value) = label.split_once('=').unwrap_or((label, ""));
    (key.to_string(), value.to_string())
}

/// A listing's `Labels` column: `KEY=VALUE` pairs joined with commas, in key
/// order (docker's is its map's random one).
pub fn text<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let pairs: Vec<String> = labels
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    pairs.join(",")
}

/// `--filter label=KEY` (it has the label) or `label=KEY=VALUE` (with that value).
pub fn matches(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((key, value)) => labels.get(key).is_some_and(|v| v == value),
        None => labels.contains_key(filter),
    }
}

/// As `inspect` shows them: an object, keys sorted.
pub fn value<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    let sorted: BTreeMap<_, _> = labels.into_iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_shown_and_filtered_as_docker_does() {
        let labels: BTreeMap<String, String> = ["team=web", "reviewed", "a=b=c"]
            .map(parse)
            .into_iter()
            .collect();
        assert_eq!(text(&labels), "a=b=c,reviewed=,team=web");
        assert!(matches(&labels, "reviewed"));
        assert!(matches(&labels, "team=web"));
        assert!(matches(&labels, "a=b=c"));
        assert!(!matches(&labels, "team=infra"));
        assert!(!matches(&labels, "missing"));
    }
}
