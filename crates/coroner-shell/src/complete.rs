//! Tab completion: command names, their options, and the dump's own names where
//! a command takes them (symbols, struct and union names, PIDs).

use coroner_commands::{names, Registry, Session};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use std::sync::{Arc, OnceLock};

/// More than anyone reads in a completion list.
const MAX_CANDIDATES: usize = 400;

pub struct Helper {
    session: Arc<Session>,
    registry: Arc<Registry>,
    /// Read once, on the first completion that needs them.
    type_names: OnceLock<Vec<String>>,
    pids: OnceLock<Vec<String>>,
}

impl Helper {
    pub fn new(session: Arc<Session>, registry: Arc<Registry>) -> Helper {
        Helper {
            session,
            registry,
            type_names: OnceLock::new(),
            pids: OnceLock::new(),
        }
    }

    fn commands(&self) -> Vec<String> {
        let mut names: Vec<String> = ["help", "exit", "quit"].map(String::from).to_vec();
        for c in self.registry.commands() {
            names.push(c.name().to_string());
            names.extend(c.aliases().iter().map(|a| a.to_string()));
        }
        names
    }

    fn options(&self, command: &str) -> Vec<String> {
        let Some(c) = self.registry.find(command) else {
            return Vec::new();
        };
        let parser = self.registry.parser(c, None);
        let mut out = Vec::new();
        for arg in parser.get_arguments() {
            out.extend(arg.get_long().map(|l| format!("--{l}")));
            out.extend(arg.get_short().map(|s| format!("-{s}")));
        }
        out
    }

    fn type_names(&self) -> &[String] {
        self.type_names
            .get_or_init(|| names::struct_names(&self.session))
    }

    fn pids(&self) -> &[String] {
        self.pids.get_or_init(|| names::pids(&self.session))
    }

    /// What may complete word number `index` (after the command) of `command`.
    fn arguments(&self, command: &str, index: usize, prefix: &str) -> Vec<String> {
        let from = |all: &[String]| -> Vec<String> {
            all.iter()
                .filter(|n| n.starts_with(prefix))
                .take(MAX_CANDIDATES)
                .cloned()
                .collect()
        };
        match (command, index) {
            ("struct" | "union", 0) => from(self.type_names()),
            ("sym" | "rd" | "p" | "px" | "pd" | "print" | "list", _) | ("struct" | "union", _) => {
                names::symbols(&self.session, prefix, MAX_CANDIDATES)
            }
            ("bt" | "set" | "task", _) => from(self.pids()),
            ("help", _) => from(&self.commands()),
            _ => Vec::new(),
        }
    }
}

impl Completer for Helper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = &before[start..];
        let earlier: Vec<&str> = before[..start].split_whitespace().collect();
        let candidates = match earlier.as_slice() {
            [] => self
                .commands()
                .into_iter()
                .filter(|c| c.starts_with(word))
                .collect(),
            [command, ..] if word.starts_with('-') => self
                .options(command)
                .into_iter()
                .filter(|o| o.starts_with(word))
                .collect(),
            [command, rest @ ..] => {
                let positional = rest.iter().filter(|w| !w.starts_with('-')).count();
                self.arguments(command, positional, word)
            }
        };
        let mut pairs: Vec<Pair> = candidates
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        pairs.sort_by(|a, b| a.display.cmp(&b.display));
        Ok((start, pairs))
    }
}

impl Hinter for Helper {
    type Hint = String;
}

impl Highlighter for Helper {}

impl Validator for Helper {}

impl rustyline::Helper for Helper {}
