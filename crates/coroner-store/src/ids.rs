//! Server-made names: crash, problem and job ids, tokens. Random, so nothing a
//! client sends ever becomes a key, a path or a guessable URL.

/// Bytes of randomness in an id (128 bits: unguessable, and short in a URL).
const ID_BYTES: usize = 16;

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    hex(&bytes)
}

/// A new id: 32 lower-case hex digits.
pub fn new_id() -> String {
    random_hex(ID_BYTES)
}

/// Whether `s` has the shape of an id; anything else (`..`, `/`, `%2e`) is never
/// looked up.
pub fn is_id(s: &str) -> bool {
    s.len() == 2 * ID_BYTES && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_hex_and_only_ids_pass() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert!(is_id(&a) && is_id(&b));
        for bad in [
            "",
            "..",
            "../etc/passwd",
            &a[1..],
            &a.to_uppercase(),
            &format!("{a}/"),
        ] {
            assert!(!is_id(bad), "{bad:?}");
        }
    }
}
