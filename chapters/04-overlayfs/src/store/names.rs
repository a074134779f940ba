//! Container identities: 64-hex IDs, and `adjective_surname` names.
//!
//! Docker gives every container a random 256-bit ID (shown as its first 12 hex
//! digits) and, when `--name` is not given, a name a person can type and
//! remember: an adjective and the surname of a notable scientist or engineer.
//! These word lists are our own.

use std::io::Read;

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "ancient", "bold", "brave", "bright", "calm", "careful", "cheerful",
    "clever", "cosmic", "curious", "daring", "eager", "earnest", "fearless", "fluent", "frosty",
    "gentle", "gifted", "golden", "happy", "hardy", "humble", "jolly", "keen", "kind", "lively",
    "lucid", "merry", "mellow", "modest", "nimble", "noble", "patient", "placid", "polite",
    "quiet", "quick", "radiant", "rapid", "serene", "sharp", "silent", "sleek", "snowy", "steady",
    "sturdy", "sunny", "swift", "tidy", "tranquil", "upbeat", "vivid", "warm", "wise", "witty",
    "zealous",
];

const SURNAMES: &[&str] = &[
    "babbage",
    "bardeen",
    "bell",
    "boole",
    "brattain",
    "cerf",
    "church",
    "codd",
    "conway",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "engelbart",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "feynman",
    "franklin",
    "gauss",
    "goodall",
    "hamilton",
    "hawking",
    "hodgkin",
    "hopper",
    "hypatia",
    "johnson",
    "kahan",
    "kepler",
    "knuth",
    "lamarr",
    "lamport",
    "liskov",
    "lovelace",
    "maxwell",
    "meitner",
    "mendel",
    "minsky",
    "morse",
    "newton",
    "noether",
    "pascal",
    "pasteur",
    "perlman",
    "raman",
    "ritchie",
    "shannon",
    "somerville",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "volta",
    "wilkes",
    "wirth",
    "wozniak",
    "yonath",
];

/// `n` random bytes from the kernel.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes
}

/// A new container ID: 64 random hex digits.
pub fn new_id() -> String {
    random_bytes::<32>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A random `adjective_surname`, as docker names a container with no `--name`.
/// Docker never says `boring_wozniak` ("Steve Wozniak is not boring"); our list
/// has no `boring`, and we keep the promise anyway.
pub fn new_name() -> String {
    let [a, b, c, d] = random_bytes::<4>();
    let adjective = ADJECTIVES[usize::from(u16::from_ne_bytes([a, b])) % ADJECTIVES.len()];
    let surname = SURNAMES[usize::from(u16::from_ne_bytes([c, d])) % SURNAMES.len()];
    format!("{adjective}_{surname}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex() {
        let id = new_id();
        assert!(crate::digest::is_hex64(&id), "{id}");
        assert_ne!(id, new_id());
    }

    #[test]
    fn names_are_adjective_underscore_surname() {
        for _ in 0..50 {
            let name = new_name();
            let (adjective, surname) = name.split_once('_').unwrap();
            assert!(
                ADJECTIVES.contains(&adjective) && SURNAMES.contains(&surname),
                "{name}"
            );
        }
    }
}
