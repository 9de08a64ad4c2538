//! A table of kernel symbols: address to `name+offset`, name to address.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

/// One symbol: its address, name, `nm`-style type letter and owning module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub address: u64,
    pub name: String,
    /// `T`/`t` text, `D`/`d` data, `B`/`b` bss, `R`/`r` read-only, ...
    pub kind: char,
    /// `None` for the kernel image itself.
    pub module: Option<String>,
}

impl Symbol {
    pub fn is_text(&self) -> bool {
        matches!(self.kind, 'T' | 't' | 'W' | 'w')
    }
}

/// Symbols sorted by address. Sizes are not stored by kallsyms; a symbol is taken to
/// extend to the next higher address, as crash and the kernel's own lookup do.
#[derive(Clone, Default)]
pub struct SymbolTable {
    by_address: Vec<Symbol>,
    /// Positions in `by_address`, hashed by name.
    by_name: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for SymbolTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymbolTable")
            .field("symbols", &self.by_address.len())
            .finish()
    }
}

fn by_address(a: &Symbol, b: &Symbol) -> std::cmp::Ordering {
    a.address.cmp(&b.address).then_with(|| a.name.cmp(&b.name))
}

/// kallsyms is in address order already (names of one address need not be): a
/// check costs less than a sort, and the stable sort is quick on sorted runs.
fn sort(symbols: &mut [Symbol]) {
    if !symbols.is_sorted_by(|a, b| by_address(a, b).is_le()) {
        symbols.sort_by(by_address);
    }
}

impl SymbolTable {
    pub fn new(symbols: Vec<Symbol>) -> SymbolTable {
        let mut table = SymbolTable::default();
        table.extend(symbols);
        table
    }

    /// Adds symbols (a module's). When they all lie above the table's last
    /// address, as modules lie above the kernel image, only they are sorted and
    /// indexed; otherwise the table is sorted and indexed again.
    pub fn extend(&mut self, mut symbols: Vec<Symbol>) {
        sort(&mut symbols);
        let above = match (self.by_address.last(), symbols.first()) {
            (Some(last), Some(first)) => by_address(last, first).is_le(),
            _ => true,
        };
        let from = self.by_address.len();
        if from == 0 {
            // Taken as it is: no copy of a kernel's 100k symbols.
            self.by_address = symbols;
        } else {
            self.by_address.append(&mut symbols);
        }
        if above {
            self.index_from(from);
        } else {
            sort(&mut self.by_address);
            self.by_name.clear();
            self.index_from(0);
        }
    }

    /// Indexes the names of the symbols from position `from` on.
    fn index_from(&mut self, from: usize) {
        let SymbolTable {
            by_address,
            by_name,
            hasher,
        } = self;
        by_name.reserve(by_address.len() - from, |&j| {
            hasher.hash_one(&by_address[j as usize].name)
        });
        for (i, s) in by_address.iter().enumerate().skip(from) {
            let hash = hasher.hash_one(&s.name);
            let same = |&j: &u32| by_address[j as usize].name == s.name;
            // Local symbols repeat across files; the first (lowest) address answers.
            if by_name.find(hash, same).is_none() {
                let rehash = |&j: &u32| hasher.hash_one(&by_address[j as usize].name);
                by_name.insert_unique(hash, i as u32, rehash);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Symbol> {
        self.by_address.iter()
    }

    pub fn by_name(&self, name: &str) -> Option<&Symbol> {
        let hash = self.hasher.hash_one(name);
        let found = self
            .by_name
            .find(hash, |&i| self.by_address[i as usize].name == name)?;
        Some(&self.by_address[*found as usize])
    }

    /// The symbol containing `address` and the offset into it. The last symbol has
    /// no known extent, so only its own address resolves to it; callers that know
    /// where a region ends (the kernel image's `_end`) check that themselves.
    pub fn lookup(&self, address: u64) -> Option<(&Symbol, u64)> {
        let i = self.by_address.partition_point(|s| s.address <= address);
        let s = self.by_address.get(i.checked_sub(1)?)?;
        let last = i == self.by_address.len();
        (!last || s.address == address).then(|| (s, address - s.address))
    }

    /// Distance to the next symbol at a higher address (the symbol's extent).
    /// Every symbol at exactly `address` (aliases), in table order.
    pub fn at(&self, address: u64) -> &[Symbol] {
        let start = self.by_address.partition_point(|s| s.address < address);
        let end = self.by_address.partition_point(|s| s.address <= address);
        &self.by_address[start..end]
    }

    pub fn size(&self, symbol: &Symbol) -> Option<u64> {
        let i = self
            .by_address
            .partition_point(|s| s.address <= symbol.address);
        self.by_address
            .get(i)
            .map(|next| next.address - symbol.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(address: u64, name: &str) -> Symbol {
        Symbol {
            address,
            name: name.into(),
            kind: 't',
            module: None,
        }
    }

    #[test]
    fn lookup_finds_the_containing_symbol() {
        let t = SymbolTable::new(vec![sym(0x300, "c"), sym(0x100, "a"), sym(0x200, "b")]);
        assert_eq!(
            t.lookup(0x250).map(|(s, o)| (s.name.as_str(), o)),
            Some(("b", 0x50))
        );
        assert_eq!(
            t.lookup(0x100).map(|(s, o)| (s.name.as_str(), o)),
            Some(("a", 0))
        );
        assert!(t.lookup(0xff).is_none());
        assert!(t.lookup(0x301).is_none(), "past the last symbol");
        assert_eq!(t.lookup(0x300).map(|(s, _)| s.name.as_str()), Some("c"));
        assert_eq!(t.by_name("c").map(|s| s.address), Some(0x300));
        assert_eq!(t.size(t.by_name("a").unwrap()), Some(0x100));
        assert_eq!(t.size(t.by_name("c").unwrap()), None);
    }

    #[test]
    fn extend_keeps_address_order_and_the_lowest_of_a_name() {
        let mut t = SymbolTable::new(vec![sym(0x200, "b"), sym(0x100, "a")]);
        t.extend(vec![sym(0x400, "d"), sym(0x300, "a")]);
        assert_eq!(t.by_name("a").map(|s| s.address), Some(0x100));
        assert_eq!(t.by_name("d").map(|s| s.address), Some(0x400));
        t.extend(vec![sym(0x50, "low"), sym(0x250, "b")]);
        let order: Vec<u64> = t.iter().map(|s| s.address).collect();
        assert_eq!(order, [0x50, 0x100, 0x200, 0x250, 0x300, 0x400]);
        assert_eq!(t.by_name("b").map(|s| s.address), Some(0x200));
        assert_eq!(t.by_name("low").map(|s| s.address), Some(0x50));
        assert_eq!(
            t.lookup(0x260).map(|(s, o)| (s.address, o)),
            Some((0x250, 0x10))
        );
    }
}
