//! Title normalisation: whatever differs between two occurrences of one bug
//! (addresses, line numbers, pids, CPU numbers, offsets) is replaced by a word, so
//! that titles group.

use regex::Regex;
use std::sync::LazyLock;

/// Longest title kept: merged or garbled lines can be very long.
const MAX_TITLE: usize = 120;

static REPLACEMENTS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // Fuzzer process names carry instance numbers.
        (r"syz-executor\.?[0-9]+((/|:)[0-9]+)?", "syz-executor"),
        (r"syzkaller[0-9]+((/|:)[0-9]+)?", "syzkaller"),
        (r"([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}", "${1}ADDR"),
        (r"([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})", "IP"),
        (r"(\.[0-9A-Za-z_]+)(:[0-9]+)+", "${1}:LINE"),
        (r"([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-z]+/0x[0-9a-z]+", "${1}"),
        (r"CPU#[0-9]+", "CPU"),
        // Standalone numbers; digits inside names (cfg80211) stay.
        (r"([^0-9A-Za-z_])([0-9]+)([^0-9A-Za-z_]|$)", "${1}NUM${3}"),
        (r"([0-9]+){7,}", "NUM"),
    ]
    .into_iter()
    .map(|(p, r)| (Regex::new(p).expect("replacement pattern"), r))
    .collect()
});

/// The normalised form of a raw title.
pub fn title(raw: &str) -> String {
    let mut text = raw.to_string();
    for (pattern, replacement) in REPLACEMENTS.iter() {
        // Matches can overlap ("1,2,3"), so replace until nothing changes.
        for _ in 0..16 {
            let next = pattern.replace_all(&text, *replacement);
            if next == text {
                break;
            }
            text = next.into_owned();
        }
    }
    printable(&text)
}

/// At most [`MAX_TITLE`] bytes of printable ASCII, single-spaced and trimmed.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TITLE));
    let mut previous = b' ';
    for &byte in text.as_bytes().iter().take(MAX_TITLE) {
        let byte = if byte == b'\t' { b' ' } else { byte };
        if !(0x20..0x7f).contains(&byte) || (byte == b' ' && previous == b' ') {
            continue;
        }
        out.push(byte as char);
        previous = byte;
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_parts_become_words() {
        assert_eq!(
            title("kernel panic: Couldn't open N_TTY ldisc for ptm2 --- error -22."),
            "kernel panic: Couldn't open N_TTY ldisc for ptm2 --- error -NUM."
        );
        assert_eq!(title("BUG: foo at ffff88002bde1e40"), "BUG: foo at ADDR");
        assert_eq!(
            title("WARNING in f at a/b.c:12:3"),
            "WARNING in f at a/b.c:LINE"
        );
        assert_eq!(title("x foo.isra.0+0x1f/0x280 y"), "x foo.isra.NUM y");
        assert_eq!(title("stuck on CPU#3 1,2,3"), "stuck on CPU NUM,NUM,NUM");
        assert_eq!(title("in cfg80211_foo"), "in cfg80211_foo");
        assert_eq!(
            title("syz-executor.3 mkdir ./syzkaller-testdir609220361"),
            "syz-executor mkdir ./syzkaller-testdirNUM"
        );
    }

    #[test]
    fn titles_are_short_printable_ascii() {
        assert_eq!(title("a\t\tb\u{7f}é  c "), "a b c");
        assert_eq!(title(&"x".repeat(500)).len(), MAX_TITLE);
    }
}
