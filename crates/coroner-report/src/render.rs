//! How a report is printed: crash-shaped text, JSON, or Markdown for tickets.

use crate::schema::Warning;
use std::io::{self, Write};

/// The output forms every report has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// A finished report. Rendering never reads the dump: everything it prints is in
/// the value.
pub trait Render {
    /// The report's JSON schema tag, `coroner.NAME/VERSION`.
    fn schema(&self) -> &'static str;
    /// What the command would print by itself, crash's shapes where crash has one.
    fn text(&self, out: &mut dyn Write) -> io::Result<()>;
    /// The report as one JSON document (see the README's schema).
    fn json(&self, out: &mut dyn Write) -> io::Result<()>;
    /// For tickets: a heading and the text in a fenced block, unless the report
    /// has a Markdown form of its own.
    fn markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut text = Vec::new();
        self.text(&mut text)?;
        let title = self.schema().trim_start_matches("coroner.");
        let title = title.split('/').next().unwrap_or(title);
        writeln!(out, "### coroner {title}\n\n```text")?;
        out.write_all(&text)?;
        if !text.ends_with(b"\n") && !text.is_empty() {
            writeln!(out)?;
        }
        writeln!(out, "```")
    }
    /// What could not be read, or was not found, while the rest stands, and that
    /// the text does not print itself: a front end shows these beside the output
    /// (a terminal's stderr). The JSON document holds every warning.
    fn warnings(&self) -> &[Warning];

    /// Writes the report in `format`.
    fn render(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Text => self.text(out),
            Format::Json => self.json(out),
            Format::Markdown => self.markdown(out),
        }
    }
}
