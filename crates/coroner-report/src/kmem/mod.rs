//! `kmem`: crash's memory views. `-i` (the summary crash's `dump_kmeminfo`
//! prints), `-s` (slab caches), `-p` (each page's `struct page`).

pub mod info;
pub mod pages;
mod read;
pub mod slab;

pub use info::{kmem_info, KmemInfoReport};
pub use pages::{kmem_pages, PagesReport};
pub use slab::{kmem_slabs, SlabReport};

/// crash's `pages_to_size`: `0`, `N KB`, `N.N MB` or `N.N GB` (a `.0` dropped).
pub(crate) fn pages_to_size(pages: u64, page_size: u64) -> String {
    if pages == 0 {
        return "0".into();
    }
    let total = pages as f64 * page_size as f64;
    let text = if total >= (1u64 << 30) as f64 {
        format!("{:.1} GB", total / (1u64 << 30) as f64)
    } else if total >= (1u64 << 20) as f64 {
        format!("{:.1} MB", total / (1u64 << 20) as f64)
    } else {
        format!("{} KB", (total / 1024.0) as u64)
    };
    text.replacen(".0 ", " ", 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_as_crash_writes_them() {
        use super::pages_to_size;
        assert_eq!(pages_to_size(0, 4096), "0");
        assert_eq!(pages_to_size(140402, 4096), "548.4 MB");
        assert_eq!(pages_to_size(4096, 4096), "16 MB");
        assert_eq!(pages_to_size(3, 4096), "12 KB");
        assert_eq!(pages_to_size(1 << 18, 4096), "1 GB");
    }
}
