//! Function names as backtraces print them, made comparable across builds.

use std::borrow::Cow;

/// `foo.cold`, `foo.isra.0`, `foo.constprop.3`, `foo.part.1`, `foo.llvm.123`: the
/// compiler's clones of `foo`, named differently by each build. Rust symbols are
/// demangled (`<kernel::foo::Bar>::baz`).
pub fn normalise(function: &str) -> Cow<'_, str> {
    demangle(function.split('.').next().unwrap_or(function))
}

/// Rust-for-Linux functions print mangled (`_RNv...`, `_ZN...E`); anything else is
/// returned as is.
pub fn demangle(name: &str) -> Cow<'_, str> {
    if let Some(plain) = itanium_plain_name(name) {
        return Cow::Borrowed(plain);
    }
    if !(name.starts_with("_R") || name.starts_with("_ZN")) {
        return Cow::Borrowed(name);
    }
    match rustc_demangle::try_demangle(name) {
        Ok(symbol) => Cow::Owned(format!("{symbol:#}")),
        Err(_) => Cow::Borrowed(name),
    }
}

/// A C++ function outside any namespace, `_Z<length><name><parameters>`
/// (`_Z8fakeNameiii`): its name, as syzkaller shows it (parameters dropped).
fn itanium_plain_name(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("_Z")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let len: usize = rest[..digits].parse().ok()?;
    let plain = rest.get(digits..digits + len)?;
    (plain
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !plain.is_empty())
    .then_some(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_and_rust_symbols() {
        assert_eq!(normalise("fx_run.cold"), "fx_run");
        assert_eq!(normalise("__call_rcu.constprop.76"), "__call_rcu");
        assert_eq!(
            normalise("_RNvCscSpY9Juk0HT_7___rustc17rust_begin_unwind"),
            "__rustc::rust_begin_unwind"
        );
        assert_eq!(normalise("_Rfoo"), "_Rfoo");
        assert_eq!(normalise("_Z8fakeNameiii"), "fakeName");
        assert_eq!(normalise("_Z99x"), "_Z99x");
    }
}
