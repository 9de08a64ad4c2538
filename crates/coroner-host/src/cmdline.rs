//! The kernel command line and its `crashkernel=` argument, in every syntax the
//! kernel takes (Documentation/admin-guide/kdump/kdump.rst) plus RHEL's `auto`.

use std::fmt;

/// Words of a kernel command line; double quotes group words as the kernel does.
pub fn words(cmdline: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in cmdline.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// What a `crashkernel=` value asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// RHEL 6–8 kernels size it themselves; others do not know the word.
    Auto,
    /// `size[@offset]`, or `size,high` (may be placed above 4 GiB).
    Fixed {
        size: u64,
        offset: Option<u64>,
        high: bool,
    },
    /// `start-[end]:size[,...][@offset]`: the size of the range RAM falls in.
    Ranges {
        ranges: Vec<Range>,
        offset: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    /// Exclusive; `None` is open-ended.
    pub end: Option<u64>,
    pub size: u64,
}

impl Spec {
    /// The reservation this asks for on a machine with `ram` bytes; `None` for
    /// `auto`, `Some(0)` when no range matches.
    pub fn size_for(&self, ram: u64) -> Option<u64> {
        match self {
            Spec::Auto => None,
            Spec::Fixed { size, .. } => Some(*size),
            Spec::Ranges { ranges, .. } => Some(
                ranges
                    .iter()
                    .find(|r| r.start <= ram && r.end.is_none_or(|e| ram < e))
                    .map_or(0, |r| r.size),
            ),
        }
    }
}

/// The `crashkernel=` arguments of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashKernelArg {
    /// The value as written (after `crashkernel=`).
    pub raw: String,
    pub spec: Result<Spec, String>,
    /// `crashkernel=size,low`: memory below 4 GiB for DMA when the main one is high.
    pub low: Option<u64>,
}

/// The `crashkernel=` the kernel uses: the last one that is not `,low`.
pub fn crashkernel(words: &[String]) -> Option<CrashKernelArg> {
    let mut main = None;
    let mut low = None;
    for w in words {
        let Some(v) = w.strip_prefix("crashkernel=") else {
            continue;
        };
        match v.strip_suffix(",low") {
            Some(size) => low = memparse_all(size).ok(),
            None => main = Some(v.to_string()),
        }
    }
    main.map(|raw| CrashKernelArg {
        spec: parse(&raw),
        raw,
        low,
    })
}

pub fn parse(v: &str) -> Result<Spec, String> {
    if v == "auto" {
        return Ok(Spec::Auto);
    }
    if v.contains(':') {
        return parse_ranges(v);
    }
    if let Some(size) = v.strip_suffix(",high") {
        return Ok(Spec::Fixed {
            size: memparse_all(size)?,
            offset: None,
            high: true,
        });
    }
    let (size, offset) = split_offset(v)?;
    Ok(Spec::Fixed {
        size: memparse_all(size)?,
        offset,
        high: false,
    })
}

fn split_offset(v: &str) -> Result<(&str, Option<u64>), String> {
    match v.split_once('@') {
        Some((a, off)) => Ok((a, Some(memparse_all(off)?))),
        None => Ok((v, None)),
    }
}

fn parse_ranges(v: &str) -> Result<Spec, String> {
    let (list, offset) = split_offset(v)?;
    let mut ranges = Vec::new();
    for item in list.split(',') {
        let (range, size) = item
            .split_once(':')
            .ok_or_else(|| format!("`{item}` is not start-[end]:size"))?;
        let (start, end) = range
            .split_once('-')
            .ok_or_else(|| format!("`{range}` is not start-[end]"))?;
        let start = memparse_all(start)?;
        let end = if end.is_empty() {
            None
        } else {
            Some(memparse_all(end)?)
        };
        if end.is_some_and(|e| e <= start) {
            return Err(format!("range `{range}` ends before it starts"));
        }
        ranges.push(Range {
            start,
            end,
            size: memparse_all(size)?,
        });
    }
    Ok(Spec::Ranges { ranges, offset })
}

/// A whole string as the kernel's memparse: a number (0x hex allowed) and an
/// optional K/M/G/T/P/E suffix.
pub fn memparse_all(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a size (like 256M)");
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if end == 0 {
        return Err(bad());
    }
    let n = u64::from_str_radix(&digits[..end], radix).map_err(|_| bad())?;
    let shift = match &digits[end..] {
        "" => 0,
        "k" | "K" => 10,
        "m" | "M" => 20,
        "g" | "G" => 30,
        "t" | "T" => 40,
        "p" | "P" => 50,
        "e" | "E" => 60,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// Sizes as people write them: `160 MiB`, `7.8 GiB`.
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
        let mut v = self.0 as f64;
        let mut unit = 0;
        while v >= 1024.0 && unit < UNITS.len() - 1 {
            v /= 1024.0;
            unit += 1;
        }
        if unit == 0 || v.fract() == 0.0 {
            write!(f, "{} {}", v as u64, UNITS[unit])
        } else {
            write!(f, "{v:.1} {}", UNITS[unit])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 1 << 20;
    const G: u64 = 1 << 30;

    fn arg(cmdline: &str) -> Option<CrashKernelArg> {
        crashkernel(&words(cmdline))
    }

    #[test]
    fn every_syntax() {
        assert_eq!(parse("auto"), Ok(Spec::Auto));
        assert_eq!(
            parse("256M"),
            Ok(Spec::Fixed {
                size: 256 * M,
                offset: None,
                high: false
            })
        );
        assert_eq!(
            parse("128M@16M"),
            Ok(Spec::Fixed {
                size: 128 * M,
                offset: Some(16 * M),
                high: false
            })
        );
        assert_eq!(
            parse("1G,high"),
            Ok(Spec::Fixed {
                size: G,
                offset: None,
                high: true
            })
        );
        let r = parse("1G-64G:160M,64G-1T:256M,1T-:512M").unwrap();
        assert_eq!(r.size_for(512 * M), Some(0));
        assert_eq!(r.size_for(G), Some(160 * M));
        assert_eq!(r.size_for(64 * G), Some(256 * M));
        assert_eq!(r.size_for(4096 * G), Some(512 * M));
        assert_eq!(parse("384M-:128M").unwrap().size_for(8 * G), Some(128 * M));
        assert_eq!(Spec::Auto.size_for(8 * G), None);
    }

    #[test]
    fn the_last_one_wins_and_low_is_separate() {
        let a = arg("ro crashkernel=128M quiet crashkernel=512M,high crashkernel=72M,low").unwrap();
        assert_eq!(a.raw, "512M,high");
        assert_eq!(a.low, Some(72 * M));
        assert_eq!(arg("ro quiet"), None);
        // Inside quotes it is part of another parameter's value.
        assert_eq!(arg("a=\"x crashkernel=1G\" b"), None);
    }

    #[test]
    fn malformed_values_are_errors_with_the_text() {
        for bad in [
            "",
            "256Q",
            "M",
            "2G-1G:128M",
            "1G-:",
            "512M-2G",
            "99999999999999999999M",
            "128M@x",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        assert_eq!(memparse_all("0x10M"), Ok(16 * M));
    }

    #[test]
    fn byte_display() {
        assert_eq!(Bytes(160 * M).to_string(), "160 MiB");
        assert_eq!(Bytes(7 * G + G / 2).to_string(), "7.5 GiB");
        assert_eq!(Bytes(12).to_string(), "12 bytes");
    }
}
