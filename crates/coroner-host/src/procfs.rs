//! /proc/iomem and /proc/meminfo.

use std::collections::BTreeMap;

/// What /proc/iomem says about RAM and the crash kernel's reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoMem {
    /// Sum of the top-level "System RAM" ranges; `None` when the addresses are
    /// hidden (the kernel prints zeros to readers without CAP_SYS_ADMIN).
    pub system_ram: Option<u64>,
    /// The "Crash kernel" range's size, when shown.
    pub crash_kernel: Option<u64>,
    /// A "Crash kernel" line exists, whether or not its addresses are shown.
    pub crash_kernel_listed: bool,
    pub addresses_hidden: bool,
}

pub fn parse_iomem(text: &str) -> Result<IoMem, String> {
    let mut ram = 0u64;
    let mut crash = None;
    let mut listed = false;
    let mut lines = 0;
    let mut nonzero = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let depth = line.len() - line.trim_start().len();
        let (range, name) = line
            .trim_start()
            .split_once(" : ")
            .ok_or_else(|| format!("line {}: not `start-end : name`: {line}", i + 1))?;
        let (start, end) = range
            .split_once('-')
            .and_then(|(a, b)| {
                Some((
                    u64::from_str_radix(a, 16).ok()?,
                    u64::from_str_radix(b, 16).ok()?,
                ))
            })
            .ok_or_else(|| format!("line {}: bad address range `{range}`", i + 1))?;
        lines += 1;
        nonzero |= end != 0;
        let size = end.saturating_sub(start).saturating_add(1);
        if depth == 0 && name == "System RAM" {
            ram += size;
        }
        if name == "Crash kernel" {
            listed = true;
            crash = Some(size);
        }
    }
    if lines == 0 {
        return Err("no ranges".into());
    }
    Ok(IoMem {
        system_ram: nonzero.then_some(ram),
        crash_kernel: if nonzero { crash } else { None },
        crash_kernel_listed: listed,
        addresses_hidden: !nonzero,
    })
}

/// /proc/meminfo in bytes (`kB` values scaled; counts such as HugePages_Total kept).
pub fn parse_meminfo(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let (key, rest) = line.split_once(':')?;
            let mut it = rest.split_whitespace();
            let n: u64 = it.next()?.parse().ok()?;
            let scale = if it.next() == Some("kB") { 1024 } else { 1 };
            Some((key.trim().to_string(), n.saturating_mul(scale)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IOMEM: &str = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
000a0000-000bffff : PCI Bus 0000:00
00100000-bffd9fff : System RAM
  01000000-01e00ec0 : Kernel code
  27000000-30ffffff : Crash kernel
bffda000-bfffffff : Reserved
100000000-23fffffff : System RAM
";

    #[test]
    fn ram_and_crash_kernel() {
        let m = parse_iomem(IOMEM).unwrap();
        assert_eq!(m.system_ram, Some(0x9ec00 + 0xbfeda000 + 0x140000000));
        assert_eq!(m.crash_kernel, Some(160 << 20));
        assert!(m.crash_kernel_listed && !m.addresses_hidden);
    }

    #[test]
    fn hidden_addresses_still_tell_the_reservation_exists() {
        let hidden: String = IOMEM
            .lines()
            .map(|l| {
                let (r, n) = l.split_once(" : ").unwrap();
                let pad = &r[..r.len() - r.trim_start().len()];
                format!("{pad}00000000-00000000 : {n}\n")
            })
            .collect();
        let m = parse_iomem(&hidden).unwrap();
        assert_eq!((m.system_ram, m.crash_kernel), (None, None));
        assert!(m.crash_kernel_listed && m.addresses_hidden);
    }

    #[test]
    fn garbage_is_an_error_with_the_line() {
        assert_eq!(parse_iomem("").unwrap_err(), "no ranges");
        let e = parse_iomem("00000000-00000fff : Reserved\nhello world\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        assert!(parse_iomem("zz-10 : System RAM\n")
            .unwrap_err()
            .contains("bad address range"));
    }

    #[test]
    fn meminfo_in_bytes() {
        let m =
            parse_meminfo("MemTotal:        8039500 kB\nHugePages_Total:       0\nbroken line\n");
        assert_eq!(m["MemTotal"], 8039500 * 1024);
        assert_eq!(m["HugePages_Total"], 0);
        assert_eq!(m.len(), 2);
    }
}
