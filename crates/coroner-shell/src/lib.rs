//! coroner's interactive session over one open dump, in crash's habits: a prompt
//! with line editing, persistent history and completion; `cmd | shell pipeline`,
//! `> file` and `>> file`; `!cmd`; a pager for long output on a terminal; Ctrl-C
//! stops a command and keeps the session; a script from `-i FILE` or a pipe runs
//! non-interactively. Every line runs through coroner-commands' registry, so the
//! shell shows what the one-shot CLI and the server show.

mod complete;
mod interrupt;
mod line;
mod sink;

use coroner_commands::{CommandError, Registry, Session};
use interrupt::Interrupt;
use line::Line;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// How the session reads its lines.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Run this file's lines, then stop (crash's `-i`).
    pub script: Option<PathBuf>,
    /// Where history is kept between sessions (`None`: not kept).
    pub history: Option<PathBuf>,
}

/// The default history file: `$HOME/.coroner_history`.
pub fn default_history() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".coroner_history"))
}

/// Runs the session until `exit`, end of input or the script's end. The exit
/// status is the worst of the lines' (0 when all succeeded).
pub fn run(session: Session, options: &Options) -> u8 {
    let session = Arc::new(session);
    let registry = Arc::new(Registry::builtin());
    let interrupt = Interrupt::install();
    // The program opens while the user types the first line.
    let opening = Arc::clone(&session);
    std::thread::spawn(move || {
        let _ = opening.program();
    });
    let shell = Shell {
        session,
        registry,
        interrupt,
    };
    if let Some(script) = &options.script {
        return match std::fs::File::open(script) {
            Ok(file) => shell.batch(std::io::BufReader::new(file)),
            Err(e) => {
                eprintln_quiet(&format!("coroner: {}: {e}", script.display()));
                2
            }
        };
    }
    if !std::io::stdin().is_terminal() {
        return shell.batch(std::io::stdin().lock());
    }
    shell.interactive(options.history.as_deref())
}

struct Shell {
    session: Arc<Session>,
    registry: Arc<Registry>,
    interrupt: Interrupt,
}

impl Shell {
    fn batch(&self, input: impl BufRead) -> u8 {
        let mut worst = 0;
        for text in input.lines() {
            let Ok(text) = text else { break };
            match self.execute(&text, false) {
                Flow::Exit => break,
                Flow::Status(status) => worst = worst.max(status),
            }
        }
        worst
    }

    fn interactive(&self, history: Option<&std::path::Path>) -> u8 {
        let helper = complete::Helper::new(Arc::clone(&self.session), Arc::clone(&self.registry));
        let mut editor = match rustyline::Editor::<complete::Helper, _>::new() {
            Ok(editor) => editor,
            Err(e) => {
                eprintln_quiet(&format!("coroner: cannot use this terminal: {e}"));
                return 2;
            }
        };
        editor.set_helper(Some(helper));
        if let Some(path) = history {
            let _ = editor.load_history(path);
        }
        let mut worst = 0;
        loop {
            match editor.readline("coroner> ") {
                Ok(text) => {
                    if !text.trim().is_empty() {
                        let _ = editor.add_history_entry(text.as_str());
                    }
                    match self.execute(&text, true) {
                        Flow::Exit => break,
                        Flow::Status(status) => worst = worst.max(status),
                    }
                }
                // Ctrl-C at the prompt clears the line, as in a shell.
                Err(rustyline::error::ReadlineError::Interrupted) => continue,
                Err(_) => break,
            }
        }
        if let Some(path) = history {
            let _ = editor.save_history(path);
        }
        worst
    }

    /// Runs one line; interactive lines may page.
    fn execute(&self, text: &str, interactive: bool) -> Flow {
        let line = match line::parse(text) {
            Ok(line) => line,
            Err(e) => {
                eprintln_quiet(&format!("coroner: {e}"));
                return Flow::Status(2);
            }
        };
        match line {
            Line::Empty => Flow::Status(0),
            Line::Exit => Flow::Exit,
            Line::Help(topic) => Flow::Status(self.help(topic.as_deref())),
            Line::System(command) => Flow::Status(sink::system(&command)),
            Line::Command { words, sink } => Flow::Status(self.command(words, sink, interactive)),
        }
    }

    fn command(&self, words: Vec<String>, sink: line::Sink, interactive: bool) -> u8 {
        self.interrupt.reset();
        let (session, registry) = (Arc::clone(&self.session), Arc::clone(&self.registry));
        let (send, receive) = std::sync::mpsc::channel();
        // A worker runs the command so that Ctrl-C can give the prompt back at
        // once; an abandoned worker finishes on its own and its report is dropped.
        std::thread::spawn(move || {
            let _ = send.send(registry.run_line(&session, &words));
        });
        let result = loop {
            match receive.recv_timeout(std::time::Duration::from_millis(20)) {
                Ok(result) => break result,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if self.interrupt.raised() => {
                    eprintln_quiet("coroner: interrupted");
                    return 130;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    eprintln_quiet("coroner: the command failed");
                    return 2;
                }
            }
        };
        match result {
            Ok((output, format)) => {
                let printed = sink::deliver(&sink, interactive, &self.interrupt, |out| {
                    output.report.render(format, out)
                });
                for w in output.report.warnings() {
                    eprintln_quiet(&format!("coroner: warning: {}", w.text));
                }
                match printed {
                    Ok(()) => output.status,
                    Err(e) => {
                        eprintln_quiet(&format!("coroner: {e}"));
                        2
                    }
                }
            }
            Err(CommandError::Usage(text)) => {
                // clap's usage text, which says what was wrong and how to ask for help.
                eprintln_quiet(text.trim_end());
                2
            }
            Err(e) => {
                eprintln_quiet(&format!("coroner: {e}"));
                e.status()
            }
        }
    }

    fn help(&self, topic: Option<&str>) -> u8 {
        let text = match topic {
            None => {
                let mut text = String::from("Commands (help CMD for one):\n");
                for c in self.registry.commands() {
                    text.push_str(&format!("  {:<8} {}\n", c.name(), c.about()));
                }
                text.push_str(concat!(
                    "\nIn the shell: CMD | PIPELINE, CMD > FILE, CMD >> FILE, !SHELL-COMMAND,\n",
                    "help [CMD], exit (or quit, q, Ctrl-D). Every command takes --json and --markdown.\n"
                ));
                text
            }
            Some(name) => match self.registry.find(name) {
                Some(c) => self.registry.parser(c, None).render_long_help().to_string(),
                None => {
                    eprintln_quiet(&format!("coroner: {name}: no such command"));
                    return 2;
                }
            },
        };
        match sink::deliver(&line::Sink::Stdout, true, &self.interrupt, |out| {
            out.write_all(text.as_bytes())
        }) {
            Ok(()) => 0,
            Err(_) => 2,
        }
    }
}

enum Flow {
    Status(u8),
    Exit,
}

/// stderr may be gone too; nothing better can be done then.
fn eprintln_quiet(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}
