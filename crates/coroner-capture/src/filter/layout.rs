//! What the page filter needs to know about `struct page` and the page-flag and
//! page-type encodings, read from VMCOREINFO alone as makedumpfile reads it
//! (`read_vmcoreinfo`, `get_value_for_old_linux`, `init_compound_offset`).

use crate::CaptureError;
use coroner_kernel::VmcoreInfo;

/// makedumpfile's defaults for kernels that predate the VMCOREINFO numbers.
const PG_LRU_ORIGINAL: u32 = 5;
const PG_PRIVATE_ORIGINAL: u32 = 11;
const PG_SWAPCACHE_ORIGINAL: u32 = 15;
const PG_SLAB_ORIGINAL: u32 = 7;
const PG_COMPOUND_ORIGINAL: u32 = 14;
/// `PAGE_BUDDY_MAPCOUNT_VALUE` before the kernel exported it (2.6.39 and later).
const BUDDY_MAPCOUNT_2_6_39: i64 = -128;

/// How free (buddy) pages are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuddyTest {
    /// `_mapcount` equals `PAGE_BUDDY_MAPCOUNT_VALUE` (2.6.38 and later).
    Mapcount(u32),
    /// The `PG_buddy` page flag (2.6.17 to 2.6.37).
    Flag(u32),
}

/// Where order and destructor of a compound page live in its first tail page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompoundInfo {
    /// 6.9+: order in the low byte of the tail's flags; hugetlb is a page type.
    FlagsByteHugetlbType(u32),
    /// 6.6–6.8: order in the low byte of the tail's flags; hugetlb is `PG_hugetlb`.
    FlagsByteHugetlbFlag(u32),
    /// Up to 6.5: order and destructor at these offsets of the tail page (0 = absent,
    /// as makedumpfile treats it), one byte wide from 4.16 on.
    Fields {
        order: u64,
        dtor: u64,
        width: FieldWidth,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldWidth {
    /// 4.16 and later: `unsigned char`.
    Byte,
    /// 4.4 to 4.15: `unsigned short`.
    Short,
    /// Before 4.4: order a short, the destructor a function pointer.
    Legacy,
}

#[derive(Debug, Clone)]
pub struct PageLayout {
    pub page_size: u64,
    pub page_shift: u32,
    /// `sizeof(struct page)`.
    pub size: u64,
    pub flags: u64,
    pub mapping: u64,
    pub mapcount: Option<u64>,
    pub private: Option<u64>,
    pub compound_head: Option<u64>,
    pub compound: CompoundInfo,
    pub pg_lru: u32,
    pub pg_private: u32,
    pub pg_swapcache: u32,
    pub pg_swapbacked: Option<u32>,
    pub pg_slab: u32,
    pub pg_hwpoison: Option<u32>,
    pub head_mask: u64,
    pub buddy: Option<BuddyTest>,
    pub offline: Option<u32>,
    pub slab_type: Option<u32>,
    pub unaccepted: Option<u32>,
    pub hugetlb_dtor: Option<u64>,
    pub free_huge_page: Option<u64>,
    /// `LENGTH(zone.free_area)`: orders at or above it are not trusted.
    pub free_area_len: Option<u64>,
}

/// `NUMBER(x)` as makedumpfile parses it: decimal, else hexadecimal.
pub fn number(info: &VmcoreInfo, name: &str) -> Option<i64> {
    let raw = info.get(&format!("NUMBER({name})"))?.trim();
    raw.parse::<i64>().ok().or_else(|| {
        let hex = raw.strip_prefix("0x").unwrap_or(raw);
        u64::from_str_radix(hex, 16).ok().map(|v| v as i64)
    })
}

/// The (major, minor, patch) of `OSRELEASE`.
pub fn kernel_version(info: &VmcoreInfo) -> Option<(u32, u32, u32)> {
    let release = info.osrelease()?;
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

fn bit_number(info: &VmcoreInfo, name: &str) -> Option<u32> {
    number(info, name)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n < 64)
}

/// A `NUMBER(PAGE_*_MAPCOUNT_VALUE)` as the 32-bit `_mapcount` pattern it stands for.
fn mapcount_value(info: &VmcoreInfo, name: &str) -> Option<u32> {
    number(info, name).map(|n| n as u32)
}

impl PageLayout {
    pub fn from_vmcoreinfo(info: &VmcoreInfo) -> Result<PageLayout, CaptureError> {
        let missing = |what: &str| CaptureError::Vmcoreinfo(format!("VMCOREINFO lacks {what}"));
        let page_size = info.page_size().ok_or_else(|| missing("PAGESIZE"))?;
        let size = info.size("page").ok_or_else(|| missing("SIZE(page)"))?;
        let flags = info
            .offset("page", "flags")
            .ok_or_else(|| missing("OFFSET(page.flags)"))?;
        let mapping = info
            .offset("page", "mapping")
            .ok_or_else(|| missing("OFFSET(page.mapping)"))?;
        if size == 0 || size > 1024 {
            return Err(CaptureError::Vmcoreinfo(format!(
                "SIZE(page)={size} is not a plausible struct page size"
            )));
        }
        let mapcount = info.offset("page", "_mapcount");
        let private = info.offset("page", "private");
        // 7.1 renamed compound_head to compound_info; makedumpfile reads either.
        let compound_head = info
            .offset("page", "compound_head")
            .or_else(|| info.offset("page", "compound_info"));
        let version = kernel_version(info).unwrap_or((0, 0, 0));

        let pg_private = bit_number(info, "PG_private").unwrap_or(PG_PRIVATE_ORIGINAL);
        let pg_swapcache = bit_number(info, "PG_swapcache").unwrap_or(PG_SWAPCACHE_ORIGINAL);
        let pg_swapbacked = bit_number(info, "PG_swapbacked")
            .or((pg_swapcache < pg_private).then_some(pg_private + 6));
        let head_mask = number(info, "PG_head_mask")
            .map(|m| m as u64)
            .unwrap_or(1 << PG_COMPOUND_ORIGINAL);

        let hugetlb_type = mapcount_value(info, "PAGE_HUGETLB_MAPCOUNT_VALUE");
        let compound = if let Some(v) = hugetlb_type {
            CompoundInfo::FlagsByteHugetlbType(v)
        } else if let Some(bit) = bit_number(info, "PG_hugetlb") {
            CompoundInfo::FlagsByteHugetlbFlag(bit)
        } else {
            let legacy = version < (4, 4, 0);
            let from_folio = |m: &str| info.offset("folio", m).map(|o| o.wrapping_sub(size));
            let lru = info.offset("page", "lru");
            let order = from_folio("_folio_order")
                .or_else(|| info.offset("page", "compound_order"))
                .or_else(|| {
                    legacy
                        .then(|| Some(lru? + info.offset("list_head", "prev")?))
                        .flatten()
                })
                .unwrap_or(0);
            let dtor = from_folio("_folio_dtor")
                .or_else(|| info.offset("page", "compound_dtor"))
                .or_else(|| {
                    legacy
                        .then(|| Some(lru? + info.offset("list_head", "next")?))
                        .flatten()
                })
                .unwrap_or(0);
            let width = if version >= (4, 16, 0) {
                FieldWidth::Byte
            } else if version >= (4, 4, 0) {
                FieldWidth::Short
            } else {
                FieldWidth::Legacy
            };
            CompoundInfo::Fields { order, dtor, width }
        };

        let buddy = if private.is_none() {
            None
        } else if let Some(v) = mapcount_value(info, "PAGE_BUDDY_MAPCOUNT_VALUE") {
            mapcount.map(|_| BuddyTest::Mapcount(v))
        } else if let Some(bit) = bit_number(info, "PG_buddy") {
            Some(BuddyTest::Flag(bit))
        } else if version >= (2, 6, 39) && mapcount.is_some() {
            Some(BuddyTest::Mapcount(BUDDY_MAPCOUNT_2_6_39 as u32))
        } else {
            None
        };

        Ok(PageLayout {
            page_size,
            page_shift: page_size.trailing_zeros(),
            size,
            flags,
            mapping,
            mapcount,
            private,
            compound_head,
            compound,
            pg_lru: bit_number(info, "PG_lru").unwrap_or(PG_LRU_ORIGINAL),
            pg_private,
            pg_swapcache,
            pg_swapbacked,
            pg_slab: bit_number(info, "PG_slab").unwrap_or(PG_SLAB_ORIGINAL),
            pg_hwpoison: bit_number(info, "PG_hwpoison"),
            head_mask,
            buddy,
            offline: mapcount_value(info, "PAGE_OFFLINE_MAPCOUNT_VALUE"),
            slab_type: mapcount_value(info, "PAGE_SLAB_MAPCOUNT_VALUE"),
            unaccepted: mapcount_value(info, "PAGE_UNACCEPTED_MAPCOUNT_VALUE"),
            hugetlb_dtor: number(info, "HUGETLB_PAGE_DTOR").map(|n| n as u64),
            free_huge_page: info.symbol("free_huge_page"),
            free_area_len: info.length("zone.free_area"),
        })
    }
}
