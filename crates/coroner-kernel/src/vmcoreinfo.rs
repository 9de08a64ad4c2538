//! VMCOREINFO: the `KEY=VALUE` lines the kernel publishes about itself for dump tools
//! (kernel/crash_core.c). Keys and their number bases, as the kernel prints them:
//! `SYMBOL(x)` hex address, `SIZE(x)` / `OFFSET(s.m)` / `LENGTH(x)` unsigned decimal,
//! `NUMBER(x)` signed decimal, `KERNELOFFSET` hex, `CRASHTIME` decimal seconds,
//! `PAGESIZE` decimal, `OSRELEASE` / `BUILD-ID` text.

use std::collections::BTreeMap;

/// Parsed VMCOREINFO. Unknown keys are kept; malformed lines are counted, not fatal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmcoreInfo {
    entries: BTreeMap<String, String>,
    /// Lines that were not `KEY=VALUE`, with their line numbers (1-based).
    pub malformed: Vec<usize>,
}

impl VmcoreInfo {
    /// Parses the text up to its first NUL. Never fails: a garbage buffer yields no
    /// entries and a list of malformed lines, and every accessor answers `None`.
    pub fn parse(raw: &[u8]) -> VmcoreInfo {
        let raw = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
        let mut info = VmcoreInfo::default();
        for (i, line) in String::from_utf8_lossy(raw).lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            match line.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    // The first definition wins, as in makedumpfile's reader.
                    info.entries
                        .entry(k.to_string())
                        .or_insert_with(|| v.to_string());
                }
                _ => info.malformed.push(i + 1),
            }
        }
        info
    }

    /// The raw value of a key, e.g. `get("SYMBOL(prb)")`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn hex(&self, key: &str) -> Option<u64> {
        let v = self.get(key)?.trim();
        u64::from_str_radix(v.strip_prefix("0x").unwrap_or(v), 16).ok()
    }

    fn unsigned(&self, key: &str) -> Option<u64> {
        self.get(key)?.trim().parse().ok()
    }

    pub fn osrelease(&self) -> Option<&str> {
        self.get("OSRELEASE").filter(|s| !s.is_empty())
    }

    pub fn build_id(&self) -> Option<&str> {
        self.get("BUILD-ID").filter(|s| !s.is_empty())
    }

    pub fn page_size(&self) -> Option<u64> {
        self.unsigned("PAGESIZE").filter(|p| p.is_power_of_two())
    }

    /// KASLR displacement of the kernel image (`KERNELOFFSET`, x86-64 and arm64).
    pub fn kernel_offset(&self) -> Option<u64> {
        self.hex("KERNELOFFSET")
    }

    /// Seconds since the epoch when the kernel crashed (set only by a real kdump).
    pub fn crash_time(&self) -> Option<i64> {
        self.get("CRASHTIME")?.trim().parse().ok()
    }

    /// `SYMBOL(name)`: the symbol's (KASLR-relocated) virtual address.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.hex(&format!("SYMBOL({name})"))
    }

    /// `SIZE(name)`: sizeof a type.
    pub fn size(&self, name: &str) -> Option<u64> {
        self.unsigned(&format!("SIZE({name})"))
    }

    /// `OFFSET(type.member)`: offsetof a member.
    pub fn offset(&self, type_name: &str, member: &str) -> Option<u64> {
        self.unsigned(&format!("OFFSET({type_name}.{member})"))
    }

    /// `LENGTH(name)`: element count of an array.
    pub fn length(&self, name: &str) -> Option<u64> {
        self.unsigned(&format!("LENGTH({name})"))
    }

    /// `NUMBER(name)`: a signed constant (e.g. `phys_base`, `pgtable_l5_enabled`).
    pub fn number(&self, name: &str) -> Option<i64> {
        self.get(&format!("NUMBER({name})"))?.trim().parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"OSRELEASE=6.1.0-56-amd64\nBUILD-ID=eb4fbcd0\nPAGESIZE=4096\n\
SYMBOL(init_uts_ns)=ffffffff9a413b40\nSIZE(list_head)=16\nOFFSET(list_head.next)=0\n\
LENGTH(mem_section)=2048\nNUMBER(phys_base)=-331350016\nKERNELOFFSET=18000000\n\
CRASHTIME=1795933036\nnot a pair\n\0ignored=after NUL\n";

    #[test]
    fn typed_accessors_read_each_base() {
        let v = VmcoreInfo::parse(SAMPLE);
        assert_eq!(v.osrelease(), Some("6.1.0-56-amd64"));
        assert_eq!(v.build_id(), Some("eb4fbcd0"));
        assert_eq!(v.page_size(), Some(4096));
        assert_eq!(v.symbol("init_uts_ns"), Some(0xffffffff9a413b40));
        assert_eq!(v.size("list_head"), Some(16));
        assert_eq!(v.offset("list_head", "next"), Some(0));
        assert_eq!(v.length("mem_section"), Some(2048));
        assert_eq!(v.number("phys_base"), Some(-331350016));
        assert_eq!(v.kernel_offset(), Some(0x18000000));
        assert_eq!(v.crash_time(), Some(1795933036));
        assert_eq!(v.malformed, vec![11]);
        assert_eq!(v.get("ignored"), None);
    }

    #[test]
    fn garbage_gives_no_answers() {
        let v = VmcoreInfo::parse(b"\xff\xfe=\x01\nPAGESIZE=4095\nSYMBOL(x)=zz\n");
        assert_eq!(v.page_size(), None);
        assert_eq!(v.symbol("x"), None);
        assert_eq!(v.osrelease(), None);
    }
}
