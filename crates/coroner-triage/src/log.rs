//! Kernel log lines as they arrive: strips what each capture adds in front of the
//! kernel's own text (syslog and journal prefixes, `dmesg` timestamps, printk caller
//! ids, log levels) and says which printk context a line came from.

use regex::Regex;
use std::sync::LazyLock;

/// Longest line body kept. printk never writes lines this long; longer ones are
/// garbage or interleaved output, and cutting them bounds the work per line.
pub const MAX_LINE: usize = 4096;

/// Who printed a line, as far as the prefix tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// No timestamp: plain `dmesg -t`, a console without printk times, or junk.
    None,
    /// A timestamp but no caller id.
    Console,
    /// `CONFIG_PRINTK_CALLER`: printed by task `T<pid>`...
    Task(u32),
    /// ...or from CPU `C<n>` in interrupt context.
    Cpu(u32),
}

/// One input line with its capture prefix removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub context: Context,
    /// The kernel's text: lossy UTF-8, no `\r`, at most [`MAX_LINE`] bytes.
    pub body: String,
    /// False for syslog lines logged by another program than the kernel.
    pub from_kernel: bool,
}

/// `Jan 11 22:31:38 host kernel: ` (syslog; `.123456` with `journalctl -o
/// short-precise`), `2024-01-11T22:31:38.123+01:00 host kernel: ` (rsyslog,
/// `journalctl -o short-iso`), with the tag captured.
static SYSLOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) +\S+ +([^\s:\[]+)(?:\[\d+\])?: ?",
    )
    .expect("syslog prefix pattern")
});

/// `dmesg -x`: `kern  :warn  : `.
static DMESG_DECODED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z]+ *:[a-z]+ *: ").expect("dmesg -x pattern"));

/// `dmesg -T`: `[Thu Jan 11 22:31:38 2024] `.
static DMESG_HUMAN_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d \d{4}\] ")
        .expect("dmesg -T pattern")
});

/// Splits off the capture prefix of one raw line (without its `\n`).
pub fn parse(raw: &[u8]) -> Line {
    let mut rest = raw;
    if let Some(r) = strip_dropped_notice(rest) {
        rest = r;
    }
    rest = strip_level(rest);
    let mut from_kernel = true;
    if starts_like_syslog(rest) {
        let text = String::from_utf8_lossy(&rest[..rest.len().min(128)]);
        if let Some(caps) = SYSLOG.captures(&text) {
            let whole = caps.get(0).map_or(0, |m| m.end());
            // An ASCII prefix is as long in the lossy copy as in the bytes.
            if text[..whole].is_ascii() {
                from_kernel = &caps[1] == "kernel";
                rest = strip_level(&rest[whole..]);
            }
        }
    }
    if rest.first().is_some_and(u8::is_ascii_lowercase) {
        let text = String::from_utf8_lossy(&rest[..rest.len().min(32)]);
        if let Some(m) = DMESG_DECODED.find(&text) {
            rest = &rest[m.end()..];
        }
    }
    rest = strip_login_prompt(rest);
    let (context, rest) = strip_timestamp(rest);
    Line {
        context,
        body: clean(rest),
        from_kernel,
    }
}

/// `** 12 printk messages dropped ** ` in front of a line.
fn strip_dropped_notice(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"** ")?;
    let end = rest.windows(4).position(|w| w == b" ** ")?;
    rest[..end]
        .ends_with(b"messages dropped")
        .then(|| &rest[end + 4..])
}

/// `host login: [  12.3] ...`: a getty prompt on a serial console, with the kernel
/// writing over it.
fn strip_login_prompt(line: &[u8]) -> &[u8] {
    const PROMPT: &[u8] = b" login: ";
    if line.first() == Some(&b'[') {
        return line;
    }
    let head = &line[..line.len().min(256)];
    match head.windows(PROMPT.len()).position(|w| w == PROMPT) {
        Some(at) if seconds_stamp(&line[at + PROMPT.len()..]).is_some() => {
            &line[at + PROMPT.len()..]
        }
        _ => line,
    }
}

/// `<4>` syslog level, as `dmesg -r` and raw consoles print it.
fn strip_level(line: &[u8]) -> &[u8] {
    if line.first() == Some(&b'<') {
        let digits = line[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if (1..=3).contains(&digits) && line.get(1 + digits) == Some(&b'>') {
            return &line[2 + digits..];
        }
    }
    line
}

fn starts_like_syslog(line: &[u8]) -> bool {
    match line.first() {
        Some(b'A'..=b'Z') => line.get(3) == Some(&b' '),
        Some(b'0'..=b'9') => line.get(4) == Some(&b'-'),
        _ => false,
    }
}

/// `[  12.345678] `, optionally followed by a caller id `[  T123] ` / `[ C2] `.
fn strip_timestamp(line: &[u8]) -> (Context, &[u8]) {
    if line.first() != Some(&b'[') {
        return (Context::None, line);
    }
    if let Some(rest) = seconds_stamp(line) {
        // Consoles print the caller id right after the time, makedumpfile a space apart.
        let caller = caller_id(rest).or_else(|| caller_id(rest.strip_prefix(b" ")?));
        if let Some((context, after)) = caller {
            if let Some(body) = after.strip_prefix(b" ") {
                return (context, body);
            }
        }
        if let Some(body) = rest.strip_prefix(b" ") {
            return (Context::Console, body);
        }
        if rest.is_empty() {
            return (Context::Console, rest);
        }
        return (Context::None, line);
    }
    let head = String::from_utf8_lossy(&line[..line.len().min(40)]);
    if let Some(m) = DMESG_HUMAN_TIME.find(&head) {
        return (Context::Console, &line[m.end()..]);
    }
    (Context::None, line)
}

/// Parses `[ *digits.digits]` and returns what follows.
fn seconds_stamp(line: &[u8]) -> Option<&[u8]> {
    let inner = line.strip_prefix(b"[")?;
    let spaces = inner.iter().take_while(|&&b| b == b' ').count();
    let inner = &inner[spaces..];
    let int = inner.iter().take_while(|b| b.is_ascii_digit()).count();
    if int == 0 || inner.get(int) != Some(&b'.') {
        return None;
    }
    let frac = inner[int + 1..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if frac == 0 || inner.get(int + 1 + frac) != Some(&b']') {
        return None;
    }
    Some(&inner[int + 2 + frac..])
}

/// `[  T123]` or `[ C2]` right after the timestamp.
fn caller_id(rest: &[u8]) -> Option<(Context, &[u8])> {
    let inner = rest.strip_prefix(b"[")?;
    let spaces = inner.iter().take_while(|&&b| b == b' ').count();
    let kind = *inner.get(spaces)?;
    let digits_at = spaces + 1;
    let digits = inner[digits_at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || digits > 10 || inner.get(digits_at + digits) != Some(&b']') {
        return None;
    }
    let id: u32 = std::str::from_utf8(&inner[digits_at..digits_at + digits])
        .ok()?
        .parse()
        .ok()?;
    let context = match kind {
        b'T' => Context::Task(id),
        b'C' => Context::Cpu(id),
        _ => return None,
    };
    Some((context, &inner[digits_at + digits + 1..]))
}

/// Lossy UTF-8 without carriage returns, cut to [`MAX_LINE`] bytes.
fn clean(body: &[u8]) -> String {
    let body = &body[..body.len().min(MAX_LINE)];
    let mut text = String::from_utf8_lossy(body).into_owned();
    if text.contains('\r') {
        text.retain(|c| c != '\r');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(raw: &str) -> (Context, String, bool) {
        let line = parse(raw.as_bytes());
        (line.context, line.body, line.from_kernel)
    }

    #[test]
    fn timestamps_and_callers() {
        assert_eq!(
            body("[  772.918915] BUG: x"),
            (Context::Console, "BUG: x".into(), true)
        );
        assert_eq!(
            body("[  584.319520][   T31] INFO: task"),
            (Context::Task(31), "INFO: task".into(), true)
        );
        assert_eq!(
            body("[    1.234567] [     T42] hi"),
            (Context::Task(42), "hi".into(), true)
        );
        assert_eq!(
            body("[ 1.0][    C1] hi"),
            (Context::Cpu(1), "hi".into(), true)
        );
        assert_eq!(body("no stamp"), (Context::None, "no stamp".into(), true));
        assert_eq!(body("[x] y"), (Context::None, "[x] y".into(), true));
        assert_eq!(
            body("<4>[    3.2] Kernel panic\r"),
            (Context::Console, "Kernel panic".into(), true)
        );
        assert_eq!(
            body("[Thu Jan 11 22:31:38 2024] BUG: y"),
            (Context::Console, "BUG: y".into(), true)
        );
        assert_eq!(
            body("syzkaller login: [   16.3] INFO: x"),
            (Context::Console, "INFO: x".into(), true)
        );
        assert_eq!(
            body("a login: b"),
            (Context::None, "a login: b".into(), true)
        );
        assert_eq!(
            body("kern  :emerg : [ 5.1] Oops"),
            (Context::Console, "Oops".into(), true)
        );
    }

    #[test]
    fn syslog_and_journal_prefixes() {
        assert_eq!(
            body("Jan 11 22:31:38 host kernel: [  123.456] BUG: soft lockup"),
            (Context::Console, "BUG: soft lockup".into(), true)
        );
        assert_eq!(
            body("Jan  1 02:03:04 web1 kernel: INFO: task foo:12 blocked"),
            (Context::None, "INFO: task foo:12 blocked".into(), true)
        );
        assert_eq!(
            body("Jan 11 22:31:38.123456 host kernel: BUG: y"),
            (Context::None, "BUG: y".into(), true)
        );
        assert_eq!(
            body("2024-01-11T22:31:38.123456+01:00 host kernel: WARNING: x"),
            (Context::None, "WARNING: x".into(), true)
        );
        let (_, _, kernel) = body("Jan 11 22:31:38 host sshd[123]: WARNING: y");
        assert!(!kernel);
    }

    #[test]
    fn junk_is_bounded_and_lossy() {
        let long = vec![b'a'; MAX_LINE * 3];
        assert_eq!(parse(&long).body.len(), MAX_LINE);
        let line = parse(b"[ 1.0] \xff\xfe BUG:");
        assert!(line.body.ends_with("BUG:"));
        assert_eq!(parse(b"** 3 printk messages dropped ** [ 1.0] x").body, "x");
        assert_eq!(parse(b"").body, "");
        assert_eq!(parse(b"[").context, Context::None);
    }
}
