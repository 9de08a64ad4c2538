//! One `struct page` → keep or exclude, in makedumpfile's order of tests
//! (`__exclude_unnecessary_pages`): compound tail, free (buddy), unaccepted, cache,
//! private cache, user data (anonymous or hugetlb), hwpoison, offline. The first
//! test that matches decides; the dump level switches tests 2–6 on.

use super::layout::{BuddyTest, CompoundInfo, FieldWidth, PageLayout};
use super::DumpLevel;

/// Why a page left the dump: the categories of makedumpfile's page report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Free,
    Cache,
    CachePrivate,
    User,
    Hwpoison,
    Offline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// A compound tail: excluded with its head, if at all.
    Tail,
    /// Exclude `pages` frames starting at this one.
    Exclude {
        class: Class,
        pages: u64,
    },
    /// A free page whose order is out of range: kept, and worth a warning.
    BadFreeOrder(u64),
}

/// makedumpfile's marker for "hugetlb" in place of a destructor id (6.6 and later).
const IS_HUGETLB: u64 = u64::MAX;
const PAGE_MAPPING_ANON: u64 = 1;

fn u64_at(b: &[u8], off: u64) -> u64 {
    let o = off as usize;
    b.get(o..o + 8)
        .map_or(0, |s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
}

fn u32_at(b: &[u8], off: u64) -> u32 {
    let o = off as usize;
    b.get(o..o + 4)
        .map_or(0, |s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
}

fn u16_at(b: &[u8], off: u64) -> u64 {
    let o = off as usize;
    b.get(o..o + 2).map_or(0, |s| {
        u64::from(u16::from_le_bytes(s.try_into().expect("2 bytes")))
    })
}

fn u8_at(b: &[u8], off: u64) -> u64 {
    b.get(off as usize).map_or(0, |&v| u64::from(v))
}

fn test_bit(flags: u64, bit: u32) -> bool {
    flags & (1u64 << bit) != 0
}

/// The fields of one `struct page` the filter looks at.
struct Page {
    flags: u64,
    mapping: u64,
    mapcount: u32,
    private: u64,
    compound_head: u64,
}

impl Page {
    fn read(l: &PageLayout, b: &[u8]) -> Page {
        Page {
            flags: u64_at(b, l.flags),
            mapping: u64_at(b, l.mapping),
            mapcount: l.mapcount.map_or(0, |o| u32_at(b, o)),
            private: l.private.map_or(0, |o| u64_at(b, o)),
            compound_head: l.compound_head.map_or(0, |o| u64_at(b, o)),
        }
    }
}

fn is_slab(l: &PageLayout, p: &Page) -> bool {
    l.slab_type.is_some_and(|v| p.mapcount == v) || test_bit(p.flags, l.pg_slab)
}

fn is_anon(l: &PageLayout, p: &Page) -> bool {
    p.mapping & PAGE_MAPPING_ANON != 0 && !is_slab(l, p)
}

fn is_cache(l: &PageLayout, p: &Page) -> bool {
    if test_bit(p.flags, l.pg_lru) {
        return true;
    }
    // PG_swapcache means swap cache only with PG_swapbacked (4.10+).
    l.pg_swapbacked.is_none_or(|b| test_bit(p.flags, b)) && test_bit(p.flags, l.pg_swapcache)
}

fn is_buddy(l: &PageLayout, p: &Page) -> bool {
    match l.buddy {
        Some(BuddyTest::Mapcount(v)) => !is_slab(l, p) && p.mapcount == v,
        Some(BuddyTest::Flag(bit)) => test_bit(p.flags, bit),
        None => false,
    }
}

fn is_hugetlb(l: &PageLayout, dtor: u64) -> bool {
    dtor == IS_HUGETLB || l.hugetlb_dtor == Some(dtor) || l.free_huge_page == Some(dtor)
}

fn is_offline(l: &PageLayout, p: &Page) -> bool {
    l.offline.is_some_and(|v| !is_slab(l, p) && p.mapcount == v)
}

/// Order and destructor of a compound head, from its first tail page.
fn compound(l: &PageLayout, head: &Page, tail: &[u8], pfn: u64) -> (u64, u64) {
    let (order, dtor) = match l.compound {
        CompoundInfo::FlagsByteHugetlbType(v) => {
            let order = u64_at(tail, l.flags) & 0xff;
            (order, if head.mapcount == v { IS_HUGETLB } else { 0 })
        }
        CompoundInfo::FlagsByteHugetlbFlag(bit) => {
            let flags_1 = u64_at(tail, l.flags);
            let dtor = if test_bit(flags_1, bit) {
                IS_HUGETLB
            } else {
                0
            };
            (flags_1 & 0xff, dtor)
        }
        CompoundInfo::Fields { order, dtor, width } => {
            let read = |off: u64, pointer: bool| match (off, width) {
                (0, _) => 0,
                (o, FieldWidth::Byte) => u8_at(tail, o),
                (o, FieldWidth::Short) => u16_at(tail, o),
                (o, FieldWidth::Legacy) if pointer => u64_at(tail, o),
                (o, FieldWidth::Legacy) => u16_at(tail, o),
            };
            (read(order, false), read(dtor, true))
        }
    };
    if order >= 64 || pfn & ((1u64 << order) - 1) != 0 {
        (0, dtor)
    } else {
        (order, dtor)
    }
}

/// Decides page frame `pfn` from its `struct page` bytes; `tail` is the next
/// `struct page` when makedumpfile would look at it (the head is not the last of
/// its 512-page read).
pub fn classify(
    l: &PageLayout,
    level: DumpLevel,
    pfn: u64,
    page: &[u8],
    tail: Option<&[u8]>,
) -> Verdict {
    let p = Page::read(l, page);
    let (order, dtor) = match tail {
        Some(t) if p.flags & l.head_mask != 0 => compound(l, &p, t, pfn),
        _ => (0, 0),
    };
    let compound_pages = 1u64 << order;
    let exclude = |class, pages| Verdict::Exclude { class, pages };
    if p.compound_head & 1 != 0 {
        return Verdict::Tail;
    }
    if level.has(DumpLevel::FREE) && is_buddy(l, &p) {
        let max_order = l.free_area_len.unwrap_or(64);
        if p.private >= max_order || p.private >= 64 {
            return Verdict::BadFreeOrder(p.private);
        }
        return exclude(Class::Free, 1 << p.private);
    }
    if level.has(DumpLevel::FREE) {
        if let (Some(v), Some(len)) = (l.unaccepted, l.free_area_len) {
            if p.mapcount == v && (1..=64).contains(&len) {
                return exclude(Class::Free, 1 << (len - 1));
            }
        }
    }
    let cache = is_cache(l, &p);
    let anon = is_anon(l, &p);
    let private = test_bit(p.flags, l.pg_private);
    if level.has(DumpLevel::CACHE) && cache && !private && !anon {
        return exclude(Class::Cache, compound_pages);
    }
    if level.has(DumpLevel::CACHE_PRIVATE) && cache && !anon {
        let class = if private {
            Class::CachePrivate
        } else {
            Class::Cache
        };
        return exclude(class, compound_pages);
    }
    if level.has(DumpLevel::USER) && (anon || is_hugetlb(l, dtor)) {
        return exclude(Class::User, compound_pages);
    }
    if l.pg_hwpoison.is_some_and(|b| test_bit(p.flags, b)) {
        return exclude(Class::Hwpoison, compound_pages);
    }
    if is_offline(l, &p) {
        return exclude(Class::Offline, compound_pages);
    }
    Verdict::Keep
}
