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

#[cfg(test)]
mod tests {
    //! The encodings that changed between kernel generations, on synthetic
    //! `struct page`s laid out as VMCOREINFO says (values from real kernels' VMCOREINFO).
    use super::*;
    use coroner_kernel::VmcoreInfo;

    const BASE: &str = "OSRELEASE=6.12.0\nPAGESIZE=4096\nSIZE(page)=64\nOFFSET(page.flags)=0\n\
OFFSET(page._refcount)=52\nOFFSET(page.mapping)=24\nOFFSET(page.lru)=8\nOFFSET(page._mapcount)=48\n\
OFFSET(page.private)=40\nOFFSET(page.compound_head)=8\nLENGTH(zone.free_area)=11\n\
NUMBER(PG_lru)=4\nNUMBER(PG_private)=13\nNUMBER(PG_swapcache)=10\nNUMBER(PG_swapbacked)=19\n\
NUMBER(PG_slab)=9\nNUMBER(PG_head_mask)=64\nNUMBER(PG_hwpoison)=23\n";

    fn layout(extra: &str) -> PageLayout {
        PageLayout::from_vmcoreinfo(&VmcoreInfo::parse(format!("{BASE}{extra}").as_bytes()))
            .expect("layout")
    }

    fn page(flags: u64, mapping: u64, mapcount: u32, private: u64) -> Vec<u8> {
        let mut p = vec![0u8; 64];
        p[0..8].copy_from_slice(&flags.to_le_bytes());
        p[24..32].copy_from_slice(&mapping.to_le_bytes());
        p[40..48].copy_from_slice(&private.to_le_bytes());
        p[48..52].copy_from_slice(&mapcount.to_le_bytes());
        p
    }

    const ALL: DumpLevel = DumpLevel(31);

    #[test]
    fn six_twelve_page_types_are_the_top_byte() {
        // 6.12+: PGTY_buddy 0xf0, offline 0xf1, slab 0xf5, hugetlb 0xf4, printed unsigned.
        let l = layout(
            "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=4026531840\nNUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=4043309056\n\
NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=4110417920\nNUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)=4093640704\n",
        );
        let buddy = page(0, 0, 0xf000_0000, 3);
        assert_eq!(
            classify(&l, ALL, 8, &buddy, None),
            Verdict::Exclude {
                class: Class::Free,
                pages: 8
            }
        );
        // Level without bit 16 keeps it.
        assert_eq!(classify(&l, DumpLevel(15), 8, &buddy, None), Verdict::Keep);
        // Offline pages go at any level once the walk runs.
        let offline = page(0, 0, 0xf100_0000, 0);
        assert_eq!(
            classify(&l, DumpLevel(0), 1, &offline, None),
            Verdict::Exclude {
                class: Class::Offline,
                pages: 1
            }
        );
        // A slab page whose mapping word has bit 0 set (6.2+ slab.slabs) is not user data.
        let slab = page(0, 0xffff_8880_0000_0001, 0xf500_0000, 0);
        assert_eq!(classify(&l, ALL, 1, &slab, None), Verdict::Keep);
        // hugetlb head: order from the first tail's flags byte.
        let head = page(64, 0, 0xf400_0000, 0);
        let tail = page(9, 0, 0, 0);
        assert_eq!(
            classify(&l, ALL, 512, &head, Some(&tail)),
            Verdict::Exclude {
                class: Class::User,
                pages: 512
            }
        );
        // An order that does not fit the frame's alignment is taken as 0.
        assert_eq!(
            classify(&l, ALL, 513, &head, Some(&tail)),
            Verdict::Exclude {
                class: Class::User,
                pages: 1
            }
        );
    }

    #[test]
    fn four_eighteen_to_six_eleven_values_are_negative_bit_clears() {
        let l = layout(
            "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\nNUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=-257\n",
        );
        assert_eq!(
            classify(&l, ALL, 0, &page(0, 0, (-129i32) as u32, 0), None),
            Verdict::Exclude {
                class: Class::Free,
                pages: 1
            }
        );
        // 6.1: PG_slab is a flag; a slab page is neither buddy nor anonymous.
        let slab = page(1 << 9, 1, (-129i32) as u32, 0);
        assert_eq!(classify(&l, ALL, 0, &slab, None), Verdict::Keep);
        // Invalid buddy order (≥ LENGTH(zone.free_area)) keeps the page.
        assert_eq!(
            classify(&l, ALL, 0, &page(0, 0, (-129i32) as u32, 11), None),
            Verdict::BadFreeOrder(11)
        );
    }

    #[test]
    fn six_six_hugetlb_is_a_tail_flag_and_older_kernels_use_the_dtor() {
        let l = layout("NUMBER(PG_hugetlb)=20\n");
        let head = page(64, 0, u32::MAX, 0);
        let tail = page((1 << 20) | 2, 0, 0, 0);
        assert_eq!(
            classify(&l, ALL, 4, &head, Some(&tail)),
            Verdict::Exclude {
                class: Class::User,
                pages: 4
            }
        );
        let old = layout("OFFSET(page.compound_dtor)=16\nOFFSET(page.compound_order)=17\nNUMBER(HUGETLB_PAGE_DTOR)=2\n");
        let mut tail = page(0, 0, 0, 0);
        tail[16] = 2;
        tail[17] = 1;
        assert_eq!(
            classify(&old, ALL, 2, &head, Some(&tail)),
            Verdict::Exclude {
                class: Class::User,
                pages: 2
            }
        );
        tail[16] = 1; // another destructor: kept
        assert_eq!(classify(&old, ALL, 2, &head, Some(&tail)), Verdict::Keep);
    }

    #[test]
    fn cache_private_and_swapcache_follow_the_flags() {
        let l = layout("NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\n");
        let lru = page(1 << 4, 0xffff_8880_1234_5000, u32::MAX, 0);
        assert_eq!(
            classify(&l, DumpLevel(2), 0, &lru, None),
            Verdict::Exclude {
                class: Class::Cache,
                pages: 1
            }
        );
        let private = page((1 << 4) | (1 << 13), 0xffff_8880_1234_5000, u32::MAX, 0);
        assert_eq!(classify(&l, DumpLevel(2), 0, &private, None), Verdict::Keep);
        assert_eq!(
            classify(&l, DumpLevel(4), 0, &private, None),
            Verdict::Exclude {
                class: Class::CachePrivate,
                pages: 1
            }
        );
        // Swap cache counts only with PG_swapbacked.
        let swap = page(1 << 10, 0, u32::MAX, 0);
        assert_eq!(classify(&l, DumpLevel(2), 0, &swap, None), Verdict::Keep);
        let swap = page((1 << 10) | (1 << 19), 0, u32::MAX, 0);
        assert_eq!(
            classify(&l, DumpLevel(2), 0, &swap, None),
            Verdict::Exclude {
                class: Class::Cache,
                pages: 1
            }
        );
        // Anonymous LRU pages are user data, not cache.
        let anon = page(1 << 4, 0xffff_8880_1234_5001, u32::MAX, 0);
        assert_eq!(classify(&l, DumpLevel(6), 0, &anon, None), Verdict::Keep);
        assert_eq!(
            classify(&l, DumpLevel(8), 0, &anon, None),
            Verdict::Exclude {
                class: Class::User,
                pages: 1
            }
        );
        // Compound tails are skipped.
        let tail = page(0, 0, 0, 0);
        let mut t = tail.clone();
        t[8] = 1;
        assert_eq!(classify(&l, ALL, 0, &t, None), Verdict::Tail);
    }
}
