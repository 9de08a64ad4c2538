//! The pieces every JSON document shares: hex addresses, warnings, the schema tag.

use serde::{Serialize, Serializer};
use std::io::{self, Write};

/// An address, or any 64-bit value that may not fit a double: written `"0x…"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr(pub u64);

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:#x}", self.0))
    }
}

/// Which step of reading the dump a warning comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The container: cut short, bad notes, no VMCOREINFO.
    Dump,
    /// Opening the program: kallsyms, BTF, modules.
    Program,
    /// Gathering what the unwinder needs (CPU registers, stacks, ORC tables).
    Stacks,
    /// The task list.
    Tasks,
    /// The kernel log.
    Log,
    /// A module's own types.
    ModuleTypes,
    /// A name or address the command was asked for.
    Lookup,
    /// A choice the command made for the user (which CPU it shows, ...).
    Selection,
    /// The vmlinux's DWARF (source lines, inlined frames).
    Debuginfo,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Dump => "dump",
            Stage::Program => "program",
            Stage::Stacks => "stacks",
            Stage::Tasks => "tasks",
            Stage::Log => "log",
            Stage::ModuleTypes => "module-types",
            Stage::Lookup => "lookup",
            Stage::Selection => "selection",
            Stage::Debuginfo => "debuginfo",
        }
    }
}

/// Something that could not be read or was not found, while the rest of the
/// report stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub stage: Stage,
    pub text: String,
}

impl Warning {
    pub fn new(stage: Stage, text: impl Into<String>) -> Warning {
        Warning {
            stage,
            text: text.into(),
        }
    }

    /// Each of `texts`, from one stage.
    pub fn all(stage: Stage, texts: &[String]) -> Vec<Warning> {
        texts
            .iter()
            .map(|t| Warning::new(stage, t.clone()))
            .collect()
    }
}

/// `{"schema": "coroner.NAME/VERSION", ...body}`, pretty-printed, with a final
/// newline.
pub(crate) fn write_document<T: Serialize>(
    out: &mut dyn Write,
    schema: &str,
    body: &T,
) -> io::Result<()> {
    #[derive(Serialize)]
    struct Document<'a, T> {
        schema: &'a str,
        #[serde(flatten)]
        body: &'a T,
    }
    serde_json::to_writer_pretty(&mut *out, &Document { schema, body })?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_hex_strings_and_documents_carry_their_schema() {
        #[derive(Serialize)]
        struct Body {
            at: Addr,
            big: Addr,
        }
        let mut out = Vec::new();
        let body = Body {
            at: Addr(0x1000),
            big: Addr(u64::MAX),
        };
        write_document(&mut out, "coroner.test/1", &body).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["schema"], "coroner.test/1");
        assert_eq!(v["at"], "0x1000");
        assert_eq!(v["big"], "0xffffffffffffffff");
        assert!(out.ends_with(b"}\n"));
    }
}
