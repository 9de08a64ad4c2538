//! The kernel log as text, byte for byte as `makedumpfile --dump-dmesg` writes it.

use super::{Log, LogRecord};

/// Renders a whole log. Records become `[seconds.micros] text` lines; the pre-3.5
/// character buffer is written as it is stored.
pub fn render(log: &Log) -> Vec<u8> {
    render_log(log, false)
}

/// As [`render`], with each record's caller id after the timestamp, as makedumpfile
/// 1.7.5 and later print it (`[    1.234567] [     T42] text`).
pub fn render_with_callers(log: &Log) -> Vec<u8> {
    render_log(log, true)
}

fn render_log(log: &Log, callers: bool) -> Vec<u8> {
    match log {
        Log::Records(records) => {
            let mut out = Vec::new();
            for r in records {
                render_record(r, callers, &mut out);
            }
            out
        }
        Log::Plain(bytes) => bytes.clone(),
    }
}

/// One record: the timestamp prefix, then the text with each embedded newline
/// indented to the prefix's width, unprintable bytes as `\xNN`, and a final newline.
pub fn render_record(r: &LogRecord, callers: bool, out: &mut Vec<u8>) {
    let mut prefix = format!(
        "[{:5}.{:06}] ",
        r.ts_nsec / 1_000_000_000,
        r.ts_nsec % 1_000_000_000 / 1000
    );
    if let (true, Some(caller)) = (callers, &r.caller) {
        prefix.push_str(&format!("[{caller:>8}] "));
    }
    out.extend_from_slice(prefix.as_bytes());
    for &b in &r.text {
        match b {
            b'\n' => {
                out.push(b'\n');
                out.extend(std::iter::repeat_n(b' ', prefix.len()));
            }
            // C's isprint || isspace in the "C" locale.
            0x20..=0x7e | b'\t' | 0x0b | 0x0c | b'\r' => out.push(b),
            // makedumpfile formats a plain (signed) `char` with %02x, so bytes of
            // 0x80 and above come out sign-extended: `\xffffffc3`.
            0x80.. => out.extend_from_slice(format!("\\x{:08x}", b as i8 as i32).as_bytes()),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(ts_nsec: u64, text: &[u8]) -> String {
        let r = LogRecord {
            ts_nsec,
            text: text.to_vec(),
            ..LogRecord::default()
        };
        let mut out = Vec::new();
        render_record(&r, false, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn caller_ids_are_right_aligned_in_eight_columns() {
        let r = LogRecord {
            ts_nsec: 1_500_000_000,
            caller: Some("T42".into()),
            text: b"a\nb".to_vec(),
            ..LogRecord::default()
        };
        let mut out = Vec::new();
        render_record(&r, true, &mut out);
        let expected = "[    1.500000] [     T42] a\n                          b\n";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn timestamp_is_seconds_and_microseconds() {
        assert_eq!(rendered(0, b"x"), "[    0.000000] x\n");
        assert_eq!(rendered(123_456_789_012, b"x"), "[  123.456789] x\n");
        assert_eq!(rendered(123_456_789_012_345, b"x"), "[123456.789012] x\n");
    }

    #[test]
    fn newlines_are_indented_and_controls_escaped() {
        assert_eq!(rendered(0, b"a\nb"), "[    0.000000] a\n               b\n");
        assert_eq!(rendered(0, b"\x01\x7f"), "[    0.000000] \\x01\\x7f\n");
        assert_eq!(
            rendered(0, "é".as_bytes()),
            "[    0.000000] \\xffffffc3\\xffffffa9\n"
        );
    }
}
