//! Kernel releases as a fleet sees them: which branch a release is on
//! (`5.14.0-427.13.1.el9_4.x86_64` and `5.14.0-427.40.1...` are both on branch
//! `5.14.0-427`; `5.14.0-503.11.1...` is on `5.14.0-503`; Debian's `6.1.0-56-amd64`
//! and `6.1.0-57-amd64` on `6.1.0`) and which of two is
//! later, so that a fix marked on one branch says nothing about another and a
//! crash on a later release of the fixed branch is a regression.

use std::cmp::Ordering;

/// The branch: for a RHEL-style release (`5.14.0-427.13.1.el9_4`) the
/// upstream version and the first build number (`5.14.0-427`, one minor
/// release's stream); for Debian and Ubuntu ones (`6.1.0-56-amd64`,
/// `5.15.0-91-generic`, whose number is an ABI that grows within one series)
/// the upstream version; for a release without a `-` its major and minor
/// version (`6.8.0` → `6.8`).
pub fn branch(release: &str) -> String {
    match release.split_once('-') {
        Some((upstream, build)) => {
            let first: String = build.chars().take_while(char::is_ascii_digit).collect();
            if first.is_empty() || !build[first.len()..].starts_with('.') {
                upstream.to_string()
            } else {
                format!("{upstream}-{first}")
            }
        }
        None => release.split('.').take(2).collect::<Vec<_>>().join("."),
    }
}

/// Orders releases by their numbers (`427.9` < `427.13`), text parts compared
/// as text, as `rpm` and `dpkg` roughly do.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (parts(a), parts(b));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let order = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Greater,
                    (Err(_), Ok(_)) => Ordering::Less,
                    (Err(_), Err(_)) => p.cmp(q),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// Runs of digits and runs of letters; separators dropped.
fn parts(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
        let first = rest.chars().next()?;
        let end = rest
            .find(|c: char| {
                c.is_ascii_digit() != first.is_ascii_digit() || !c.is_ascii_alphanumeric()
            })
            .unwrap_or(rest.len());
        let (part, tail) = rest.split_at(end);
        rest = tail;
        Some(part)
    })
}

/// `release` is `fixed` or later on the same branch.
pub fn at_or_after(release: &str, fixed: &str) -> bool {
    branch(release) == branch(fixed) && compare(release, fixed) != Ordering::Less
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches() {
        assert_eq!(branch("5.14.0-427.13.1.el9_4.x86_64"), "5.14.0-427");
        assert_eq!(branch("5.14.0-503.11.1.el9_5.x86_64"), "5.14.0-503");
        assert_eq!(branch("6.1.0-56-amd64"), "6.1.0");
        assert_eq!(branch("5.15.0-91-generic"), "5.15.0");
        assert_eq!(branch("6.8.0"), "6.8");
        assert_eq!(branch("6.1.192-coroner-fp"), "6.1.192");
    }

    #[test]
    fn order() {
        let rel = |n: &str| format!("5.14.0-427.{n}.1.el9_4.x86_64");
        assert_eq!(compare(&rel("9"), &rel("13")), Ordering::Less);
        assert_eq!(compare(&rel("13"), &rel("13")), Ordering::Equal);
        assert_eq!(
            compare("6.1.0-56-amd64", "6.1.0-18-amd64"),
            Ordering::Greater
        );
        assert!(at_or_after(&rel("40"), &rel("13")));
        assert!(!at_or_after(&rel("9"), &rel("13")));
        // Another branch is never "after" a fix on this one.
        assert!(!at_or_after("5.14.0-503.11.1.el9_5.x86_64", &rel("13")));
    }
}
