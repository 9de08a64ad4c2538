//! `System.map` / `nm` text: `ffffffff81000000 T _stext` lines.

use crate::symbols::Symbol;

/// Per-CPU symbols sit below this (the per-CPU area is a few hundred KiB at most).
const PER_CPU_END: u64 = 1 << 32;

/// Parses System.map text; lines that are not `ADDRESS TYPE NAME` are skipped and
/// counted. `slide` (the KASLR offset of the running kernel) is added to addresses in
/// the kernel image; per-CPU symbols are offsets into each CPU's area (System.map
/// lists them near zero) and KASLR does not move them.
pub fn parse(text: &str, slide: u64) -> (Vec<Symbol>, usize) {
    let mut symbols = Vec::new();
    let mut skipped = 0;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let parsed = (|| {
            let address = u64::from_str_radix(fields.next()?, 16).ok()?;
            let kind = fields.next().filter(|k| k.len() == 1)?.chars().next()?;
            let name = fields.next()?;
            let module = fields
                .next()
                .map(|m| m.trim_matches(|c| c == '[' || c == ']').to_string());
            Some(Symbol {
                address: if address < PER_CPU_END {
                    address
                } else {
                    address.wrapping_add(slide)
                },
                name: name.to_string(),
                kind,
                module,
            })
        })();
        match parsed {
            Some(s) => symbols.push(s),
            None if line.trim().is_empty() => {}
            None => skipped += 1,
        }
    }
    (symbols, skipped)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_lines_and_applies_the_slide() {
        let (syms, skipped) = super::parse("ffffffff81000000 T _stext\ngarbage\n0000000000000000 D fixed_percpu_data\nffffffffc0001000 t foo\t[mod]\n", 0x1000);
        assert_eq!(skipped, 1);
        assert_eq!(syms.len(), 3);
        assert_eq!(syms[0].address, 0xffffffff81001000);
        assert_eq!(syms[0].kind, 'T');
        assert_eq!(syms[1].address, 0, "per-CPU offsets do not slide");
        assert_eq!(syms[2].module.as_deref(), Some("mod"));
    }
}
