//! Regex shorthands shared by the crash catalog and the stack walker.

use regex::Regex;

/// A return address as backtraces print it: `[<ffffffff8100>]`, `[<0x...>]`, `[ffff...]`.
const PC: &str = r"\[<?(?:0x)?[0-9a-f]+>?\]";
/// A function name as printed before `+0x..` or a compiler suffix (`.cold`, `.isra.0`).
const FUNC: &str = r"([a-zA-Z0-9_]+)(?:\.|\+)";
/// `path/file.c:123`.
const SRC: &str = r"([a-zA-Z0-9_/.\-]+\.[a-z]+:[0-9]+)";
/// A task name and pid, which may hold any byte (lazily, within 100).
const TASK: &str = r"[\s\S]{0,100}?";

/// Compiles `pattern` after expanding `@PC@`, `@FUNC@`, `@SRC@` and `@TASK@`.
/// Patterns are constants of this crate: a bad one is a bug caught by every test.
pub fn re(pattern: &str) -> Regex {
    let expanded = pattern
        .replace("@PC@", PC)
        .replace("@FUNC@", FUNC)
        .replace("@SRC@", SRC)
        .replace("@TASK@", TASK);
    Regex::new(&expanded).unwrap_or_else(|e| panic!("pattern {pattern:?}: {e}"))
}

/// One regex matching any of `alternatives` (each itself a regex).
pub fn any_of<S: AsRef<str>>(alternatives: &[S]) -> Regex {
    let joined: Vec<&str> = alternatives.iter().map(AsRef::as_ref).collect();
    re(&joined.join("|"))
}

/// The faulting instruction pointer line of every architecture: x86 `RIP:`/`IP:`,
/// powerpc `NIP [c000..] foo+0x1c/0x40`, arm64 `pc :`, arm `PC is at`, s390
/// `Krnl PSW : <mask> <addr> (foo+0x1c/0x40)`; the function is captured.
pub const RIP_LINE: &str = r"(?:(?:IP|NIP|pc |PC is at):? (?:(?:[0-9]+:)?(?:@PC@ +){0,2}@FUNC@|(?:[0-9]+:)?0x[0-9a-f]+|(?:[0-9]+:)?@PC@ +\[< *\(null\)>\] +\(null\)|[0-9]+: +\(null\))|Krnl PSW : [0-9a-f]{8,16} [0-9a-f]{8,16} \(@FUNC@)";

/// `Call Trace:` (x86, arm64 `Call trace:`) or `Backtrace:` (arm).
pub const CALL_TRACE: &str = r"(?:Call (?:T|t)race:)|(?:Backtrace:)";
