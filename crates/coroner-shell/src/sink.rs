//! Delivering a command's output: to the terminal (through a pager when it is
//! longer than the screen), into a shell pipeline, or into a file.

use crate::interrupt::{Interrupt, Interruptible, INTERRUPTED};
use crate::line::Sink;
use std::io::{self, IsTerminal, Write};
use std::process::{Command, Stdio};

/// Writes what `render` produces to `sink`. A reader that closes early (`| head`)
/// is a normal end; Ctrl-C stops the output with an error saying so.
pub fn deliver(
    sink: &Sink,
    interactive: bool,
    interrupt: &Interrupt,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), String> {
    let result = match sink {
        Sink::Stdout if interactive && io::stdout().is_terminal() => {
            let mut text = Vec::new();
            render(&mut text).and_then(|()| show(&text, interrupt))
        }
        Sink::Stdout => {
            let mut out = Interruptible {
                inner: io::BufWriter::new(io::stdout().lock()),
                interrupt,
            };
            render(&mut out).and_then(|()| out.flush())
        }
        Sink::Pipe(pipeline) => into_pipeline(pipeline, interrupt, render),
        Sink::File { path, append } => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(*append)
                .truncate(!*append)
                .open(path)
                .map_err(|e| format!("{path}: {e}"))?;
            let mut out = Interruptible {
                inner: io::BufWriter::new(file),
                interrupt,
            };
            render(&mut out).and_then(|()| out.flush())
        }
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) if e.to_string() == INTERRUPTED => Err(INTERRUPTED.into()),
        Err(e) => Err(format!("writing the output: {e}")),
    }
}

/// On a terminal: through `$PAGER` (default `less -FRX`) when longer than the
/// screen, else straight out.
fn show(text: &[u8], interrupt: &Interrupt) -> io::Result<()> {
    let rows = terminal_size::terminal_size().map_or(24, |(_, h)| usize::from(h.0));
    let lines = text.iter().filter(|&&b| b == b'\n').count();
    if lines + 1 < rows {
        let mut out = io::stdout().lock();
        return out.write_all(text).and_then(|()| out.flush());
    }
    let pager = match std::env::var("PAGER") {
        Ok(pager) => pager,
        Err(_) if on_path("less") => "less -FRX".into(),
        // No pager to be had: print it all.
        Err(_) => return io::stdout().lock().write_all(text),
    };
    into_pipeline(&pager, interrupt, |out| out.write_all(text))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Runs `sh -c PIPELINE` with the output on its standard input, and waits.
fn into_pipeline(
    pipeline: &str,
    interrupt: &Interrupt,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(pipeline)
        .stdin(Stdio::piped())
        .spawn()?;
    let stdin = child.stdin.take().expect("piped");
    let mut out = Interruptible {
        inner: io::BufWriter::new(stdin),
        interrupt,
    };
    let written = render(&mut out).and_then(|()| out.flush());
    drop(out);
    child.wait()?;
    written
}

/// `!cmd`: runs a shell command with the terminal; its exit status.
pub fn system(command: &str) -> u8 {
    match Command::new("sh").arg("-c").arg(command).status() {
        Ok(status) => status.code().map_or(2, |c| c.clamp(0, 255) as u8),
        Err(e) => {
            let _ = writeln!(io::stderr(), "coroner: sh: {e}");
            2
        }
    }
}
