//! crash's `struct -o NAME` (and `union -o NAME`): gdb's `ptype` text with each
//! member's byte offset in front, then `SIZE:`. This follows crash 8.0.2's
//! `do_datatype_declaration` and `show_member_offset` (symbols.c) line by line:
//!
//! - the offset column is as wide as the type's size printed, plus four;
//! - a line's member is the word crash picks out of it (the name before ` : ` of
//!   a bitfield, the name inside `(*name)` of a function pointer, else the last
//!   word when it ends in `;`), and its offset is that *name* looked up from the
//!   outer type through anonymous members, `bit offset / 8`, as crash's
//!   `MEMBER_OFFSET` does. So members inside a named member of anonymous type
//!   (`mm_struct`'s `lru_gen`) get no offset, unless their name also exists
//!   higher up, when they get that one's (`bpf_attr`'s `batch`): crash's
//!   quirks, kept so outputs compare.

use std::collections::HashMap;

use crate::gdb;
use crate::model::{Type, TypeId, Types};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Radix {
    /// `struct -o` (crash's default output radix).
    Decimal,
    /// `struct -ox`.
    Hex,
}

/// crash's `struct -o` output for a struct or union (a typedef of one is
/// followed); `None` for any other type.
pub fn struct_offsets(types: &Types, id: TypeId, radix: Radix) -> Option<String> {
    struct_offsets_in(types, id, radix, Scope::default())
}

/// What a `struct -o` asks for beyond the type.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scope<'a> {
    /// `struct -o NAME ADDR`: each member's address (hex) instead of its offset.
    pub address: Option<u64>,
    /// `struct -o NAME.member`: only that member's line, and no `SIZE:`.
    pub member: Option<&'a str>,
}

/// [`struct_offsets`] for an address or a single member, as crash prints them.
pub fn struct_offsets_in(types: &Types, id: TypeId, radix: Radix, scope: Scope) -> Option<String> {
    let id = types.resolve(id);
    if !matches!(types.get(id)?, Type::Struct(_) | Type::Union(_)) {
        return None;
    }
    let number = |n: u64| match radix {
        Radix::Decimal => n.to_string(),
        Radix::Hex => format!("{n:#x}"),
    };
    let size = number(types.size_of(id)?);
    let width = size.len() + 4;
    // crash looks each line's word up from the outer type; one map serves them all.
    let mut offsets: HashMap<&str, u64> = HashMap::new();
    types.each_reachable_member(id, &mut |member, bit_offset| {
        if let Some(name) = member.name {
            offsets.entry(types.str(name)).or_insert(bit_offset / 8);
        }
        true
    });
    // For one member crash remembers the last top-level `struct {` or `union {` it
    // skipped, and names it again before that block's closing line when the
    // closing line is the member (`} b;`).
    let mut block: Option<&str> = None;
    let mut out = String::new();
    for (i, line) in gdb::ptype(types, id).lines().enumerate() {
        let word = (i > 0 && line.starts_with("    "))
            .then(|| member_word(line))
            .flatten();
        let offset = word.and_then(|word| offsets.get(word).copied());
        if let Some(member) = scope.member {
            if i == 0 || !line.starts_with(' ') {
                out.push_str(line);
                out.push('\n');
                continue;
            }
            let end_of_block = line.starts_with("    } ");
            if let Some(opened) = ["    union {", "    struct {"]
                .into_iter()
                .find(|open| line.starts_with(open))
            {
                block = Some(&opened[4..]);
            }
            if word != Some(member) || offset.is_none() {
                if end_of_block {
                    block = None;
                }
                continue;
            }
            if end_of_block {
                out.push_str(&format!("{:w$}", "", w = width + 1));
                if let Some(opened) = block.take() {
                    out.push_str(opened);
                    out.push('\n');
                }
            }
        }
        match offset {
            Some(offset) => {
                let column = match scope.address {
                    Some(base) => format!("  [{:x}]", base.wrapping_add(offset)),
                    None => format!("  [{}]", number(offset)),
                };
                out.push_str(&format!("{column:>width$}{}\n", &line[3..]));
            }
            None if i > 0 && line.starts_with(' ') => {
                out.push_str(&format!("{:w$}{line}\n", "", w = size.len() + 1));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if scope.member.is_none() {
        out.push_str(&format!("SIZE: {size}\n"));
    }
    Some(out)
}

/// The member name crash reads out of one line of `ptype` text.
fn member_word(line: &str) -> Option<&str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let target = if line.contains(':') {
        words
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, w)| **w == ":")
            .map(|(i, _)| words[i - 1])
    } else {
        let pointed = line.contains("(*").then(|| {
            words.iter().find_map(|w| {
                let inner = ["(*", "*(*", "**(*"]
                    .iter()
                    .find_map(|p| w.strip_prefix(p))?;
                inner.find(')').map(|end| &inner[..end])
            })
        });
        match pointed.flatten() {
            Some(name) => Some(name),
            None => words.last().copied().filter(|w| w.contains(';')),
        }
    }?;
    // crash blanks `*[];()` and keeps the first word.
    target
        .split(['*', '[', ']', ';', '(', ')', ' '])
        .find(|part| !part.is_empty())
}

#[cfg(test)]
mod tests {
    use super::member_word;

    #[test]
    fn crash_finds_the_member_word_in_each_kind_of_line() {
        for (line, word) in [
            ("    struct list_head *next;", Some("next")),
            (
                "    unsigned int sched_reset_on_fork : 1;",
                Some("sched_reset_on_fork"),
            ),
            ("    char comm[16];", Some("comm")),
            ("    void (*func)(struct callback_head *);", Some("func")),
            (
                "    struct sk_buff *(*validate)(struct sock *, struct sk_buff *);",
                Some("validate"),
            ),
            ("    void (*handlers[4])(int);", Some("handlers")),
            ("    int (*table)[4];", Some("table")),
            ("    enum {A, B} state : 16;", Some("state")),
            ("    } lru_gen;", Some("lru_gen")),
            ("    union {", None),
            ("    };", Some("}")),
            ("        <no data fields>", None),
        ] {
            assert_eq!(member_word(line), word, "{line}");
        }
    }
}
