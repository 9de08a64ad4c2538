//! `NAME=value` files that shells source: /etc/os-release, /etc/default/kdump-tools,
//! /etc/sysconfig/kdump, /etc/default/grub. Only assignments are understood; any other
//! line is reported, never run.

use std::collections::BTreeMap;

/// One assignment: its value (quotes removed, `$VAR` left as written) and line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    pub value: String,
    pub line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ShellVars {
    /// The last assignment of each name wins, as when sourced.
    pub vars: BTreeMap<String, Var>,
    /// `line N: why` for lines that are not assignments.
    pub problems: Vec<String>,
}

impl ShellVars {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.value.as_str())
    }
}

pub fn parse(text: &str) -> ShellVars {
    let mut out = ShellVars::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match assignment(line) {
            Ok((name, value)) => {
                out.vars.insert(name, Var { value, line: i + 1 });
            }
            Err(why) => out.problems.push(format!("line {}: {why}: {line}", i + 1)),
        }
    }
    out
}

/// `[export ]NAME=value [# comment]`.
fn assignment(line: &str) -> Result<(String, String), &'static str> {
    let line = line
        .strip_prefix("export ")
        .map(str::trim_start)
        .unwrap_or(line);
    let (name, rest) = line.split_once('=').ok_or("not a NAME=value assignment")?;
    let valid_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err("not a NAME=value assignment");
    }
    Ok((name.to_string(), value(rest)?))
}

/// A shell word made of bare, '…' and "…" parts, up to unquoted blank or `#`.
fn value(s: &str) -> Result<String, &'static str> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(c) => out.push(c),
                    None => return Err("unterminated ' quote"),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\' | '$' | '`')) => out.push(c),
                        Some(c) => {
                            out.push('\\');
                            out.push(c);
                        }
                        None => return Err("unterminated \" quote"),
                    },
                    Some(c) => out.push(c),
                    None => return Err("unterminated \" quote"),
                }
            },
            '\\' => {
                if let Some(c) = chars.next() {
                    out.push(c);
                }
            }
            c if c.is_whitespace() => {
                let rest: String = chars.collect();
                let rest = rest.trim_start();
                if rest.is_empty() || rest.starts_with('#') {
                    return Ok(out);
                }
                return Err("more than one word after = (quote the value)");
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Quotes a value for writing back: double quotes, escaping what the shell would
/// expand.
pub fn quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_and_kdump_tools_forms() {
        let v = parse(
            "NAME=\"Amazon Linux\"\nVERSION_ID='2'\nID=amzn # comment\n\n# c\nexport USE_KDUMP=1\n\
             GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M\"\n",
        );
        assert_eq!(v.get("NAME"), Some("Amazon Linux"));
        assert_eq!(v.get("VERSION_ID"), Some("2"));
        assert_eq!(v.get("ID"), Some("amzn"));
        assert_eq!(v.get("USE_KDUMP"), Some("1"));
        assert_eq!(
            v.get("GRUB_CMDLINE_LINUX_DEFAULT"),
            Some("$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M")
        );
        assert_eq!(v.vars["USE_KDUMP"].line, 6);
        assert!(v.problems.is_empty(), "{:?}", v.problems);
    }

    #[test]
    fn malformed_lines_are_reported_not_guessed() {
        let v = parse("USE_KDUMP=1\nif [ -x /bin/true ]; then\nMAKEDUMP_ARGS=\"-c -d 31\nKDUMP_COREDIR=/var/crash extra\n1X=2\n");
        assert_eq!(v.get("USE_KDUMP"), Some("1"));
        assert_eq!(v.problems.len(), 4, "{:?}", v.problems);
        assert!(v.problems[0].starts_with("line 2: not a NAME=value assignment"));
        assert!(v.problems[1].contains("unterminated \" quote"));
        assert!(v.problems[2].contains("more than one word"));
    }

    #[test]
    fn quote_round_trips() {
        for s in ["-c -d 31", "a\"b$c`d\\e", ""] {
            let v = parse(&format!("X={}\n", quote(s)));
            assert_eq!(v.get("X"), Some(s));
        }
    }
}
