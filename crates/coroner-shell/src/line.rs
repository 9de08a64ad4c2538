//! A shell line: a command and where its output goes (crash's `|`, `>`, `>>`),
//! `!cmd`, `help`, `exit`.

/// Where a command's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    /// `| PIPELINE`: into `sh -c PIPELINE`.
    Pipe(String),
    /// `> FILE` or `>> FILE`.
    File {
        path: String,
        append: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Empty,
    Exit,
    Help(Option<String>),
    /// `!cmd`: run by `sh -c`.
    System(String),
    Command {
        words: Vec<String>,
        sink: Sink,
    },
}

pub fn parse(text: &str) -> Result<Line, String> {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return Ok(Line::Empty);
    }
    if let Some(command) = text.strip_prefix('!') {
        return Ok(Line::System(command.trim().to_string()));
    }
    let (command, sink) = split_sink(text)?;
    let words = shlex::split(command).ok_or("unbalanced quotes")?;
    match words.first().map(String::as_str) {
        None => Err("no command before the redirection".into()),
        Some("exit" | "quit" | "q") if words.len() == 1 => Ok(Line::Exit),
        Some("help") => Ok(Line::Help(words.get(1).cloned())),
        Some(_) => Ok(Line::Command { words, sink }),
    }
}

/// The command and its sink: the first `|`, `>>` or `>` outside quotes.
fn split_sink(text: &str) -> Result<(&str, Sink), String> {
    let mut quote = None;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '|') => {
                let pipeline = text[at + 1..].trim();
                if pipeline.is_empty() {
                    return Err("nothing after `|`".into());
                }
                return Ok((&text[..at], Sink::Pipe(pipeline.to_string())));
            }
            (None, '>') => {
                let append = text[at + 1..].starts_with('>');
                let rest = &text[at + 1 + usize::from(append)..];
                let path = match shlex::split(rest).as_deref() {
                    Some([path]) => path.clone(),
                    _ => return Err("`>` takes one file name".into()),
                };
                return Ok((&text[..at], Sink::File { path, append }));
            }
            _ => {}
        }
    }
    Ok((text, Sink::Stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(words: &[&str], sink: Sink) -> Line {
        Line::Command {
            words: words.iter().map(|w| w.to_string()).collect(),
            sink,
        }
    }

    #[test]
    fn lines_as_crash_takes_them() {
        assert_eq!(parse("  ").unwrap(), Line::Empty);
        assert_eq!(parse("q").unwrap(), Line::Exit);
        assert_eq!(parse("help bt").unwrap(), Line::Help(Some("bt".into())));
        assert_eq!(parse("!ls -l").unwrap(), Line::System("ls -l".into()));
        assert_eq!(
            parse("bt -a").unwrap(),
            command(&["bt", "-a"], Sink::Stdout)
        );
        assert_eq!(
            parse("bt -a | grep -B2 mutex").unwrap(),
            command(&["bt", "-a"], Sink::Pipe("grep -B2 mutex".into()))
        );
        assert_eq!(
            parse("ps > 'my tasks.txt'").unwrap(),
            command(
                &["ps"],
                Sink::File {
                    path: "my tasks.txt".into(),
                    append: false
                }
            )
        );
        assert_eq!(
            parse("log >> log.txt").unwrap(),
            command(
                &["log"],
                Sink::File {
                    path: "log.txt".into(),
                    append: true
                }
            )
        );
        // Quoted `|` and `>` are arguments.
        assert_eq!(
            parse("sym 'a|b' \">\"").unwrap(),
            command(&["sym", "a|b", ">"], Sink::Stdout)
        );
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(parse("bt |").is_err());
        assert!(parse("bt >").is_err());
        assert!(parse("bt > a b").is_err());
        assert!(parse("sym 'open").is_err());
        assert!(parse("| grep x").is_err());
    }
}
