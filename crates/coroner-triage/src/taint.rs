//! The kernel's taint flags, as `print_tainted()` writes them (`Tainted: G  W  OE`),
//! decoded into words (Documentation/admin-guide/tainted-kernels.rst).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taint {
    /// The set flags, in the kernel's order (`G`, the "no proprietary module" mark,
    /// and the blanks of unset flags left out). Empty: not tainted.
    pub letters: String,
    /// One line per flag: `W: kernel issued a warning`.
    pub flags: Vec<String>,
}

const MEANINGS: [(char, &str); 19] = [
    ('P', "proprietary module loaded"),
    ('F', "module force-loaded"),
    ('S', "kernel running on an out-of-specification system"),
    ('R', "module force-unloaded"),
    ('M', "processor reported a machine check exception"),
    ('B', "bad page referenced or unexpected page flags"),
    ('U', "taint requested by user space"),
    ('D', "kernel died recently (oops or BUG)"),
    ('A', "ACPI table overridden"),
    ('W', "kernel issued a warning"),
    ('C', "staging driver loaded"),
    ('I', "workaround for a platform firmware bug applied"),
    ('O', "out-of-tree module loaded"),
    ('E', "unsigned module loaded"),
    ('L', "soft lockup occurred"),
    ('K', "kernel live-patched"),
    ('X', "distribution-defined auxiliary taint"),
    ('T', "kernel built with the struct randomization plugin"),
    ('N', "in-kernel test run"),
];

/// Decodes the letters after `Tainted: ` (blanks and `G` carry no flag).
pub fn decode(text: &str) -> Taint {
    let letters: String = text
        .chars()
        .filter(|c| c.is_ascii_uppercase() && *c != 'G')
        .collect();
    let flags = letters
        .chars()
        .map(|letter| {
            let meaning = MEANINGS
                .iter()
                .find(|(l, _)| *l == letter)
                .map_or("unknown flag", |(_, m)| m);
            format!("{letter}: {meaning}")
        })
        .collect();
    Taint { letters, flags }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_letters() {
        let t = decode("G        W  OE  ");
        assert_eq!(t.letters, "WOE");
        assert_eq!(
            t.flags,
            [
                "W: kernel issued a warning",
                "O: out-of-tree module loaded",
                "E: unsigned module loaded"
            ]
        );
        assert_eq!(decode("").flags.len(), 0);
        assert_eq!(decode("P").flags, ["P: proprietary module loaded"]);
        assert_eq!(decode("Z").flags, ["Z: unknown flag"]);
    }
}
