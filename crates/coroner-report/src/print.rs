//! `p`, `px`, `pd`: crash's print of a kernel variable or C expression, as gdb
//! shows it (`$1 = ...`, `jiffies = $1 = ...` for a bare symbol), per-CPU
//! variables with crash's `:cpu` suffix (`runqueues:1`, `:a`, `:0-1`, `:` for
//! the context CPU), and the same values as JSON.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use crate::structure::JsonValue;
use coroner_program::expr::{self, Evaluator};
use coroner_program::{AnalysisError, Program};
use coroner_types::crash::Radix;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone)]
pub struct PrintQuery {
    /// The words after `p`, as typed (crash joins them with spaces for gdb).
    pub words: Vec<String>,
    /// `px`/`-x`: hex; `pd`/`-d` or neither: decimal (crash's default radix).
    pub hex: bool,
    /// The number the first value gets (`$1`): a session counts on from there.
    pub first_number: u32,
    /// The CPU of the context task, for `NAME:` with an empty CPU list.
    pub context_cpu: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// gdb would fail: no such symbol or member, unreadable memory.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
}

/// One value printed: `$N = TEXT`.
#[derive(Debug, Clone, Serialize)]
pub struct Printed {
    /// gdb's value-history number.
    pub number: u32,
    /// What crash prints before `$N = `: the symbol (`jiffies`) or
    /// `per_cpu(runqueues, 1)`; null for an expression.
    pub leader: Option<String>,
    pub expression: String,
    /// The CPU of a per-CPU variable's instance.
    pub cpu: Option<u32>,
    /// gdb's name of the value's type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Where the value lives, when it is an object in memory.
    pub address: Option<Addr>,
    pub value: JsonValue,
    /// gdb's text after `$N = `.
    #[serde(skip)]
    pub text: String,
}

/// A per-CPU variable printed without a CPU: its type and each CPU's address.
#[derive(Debug, Clone, Serialize)]
pub struct PerCpuSummary {
    pub name: String,
    /// `struct rq runqueues;`
    pub declaration: String,
    pub addresses: Vec<(u32, Addr)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrintReport {
    pub values: Vec<Printed>,
    pub per_cpu: Option<PerCpuSummary>,
    pub warnings: Vec<Warning>,
}

impl PrintReport {
    /// How many value-history numbers the report used.
    pub fn numbers_used(&self) -> u32 {
        self.values.len() as u32
    }
}

impl Render for PrintReport {
    fn schema(&self) -> &'static str {
        "coroner.p/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        if let Some(summary) = &self.per_cpu {
            write!(
                out,
                "PER-CPU DATA TYPE:\n  {}\nPER-CPU ADDRESSES:\n",
                summary.declaration
            )?;
            for (cpu, address) in &summary.addresses {
                writeln!(out, "  [{cpu}]: {:x}", address.0)?;
            }
        }
        for value in &self.values {
            let line = format!("${} = {}\n", value.number, value.text);
            match &value.leader {
                None => out.write_all(line.as_bytes())?,
                Some(leader) => out.write_all(with_leader(leader, &line).as_bytes())?,
            }
        }
        Ok(())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

/// crash's `process_gdb_output` with a leader: `LEADER = ` before gdb's text,
/// and a `{` on the first line that does not end it (an array, a function's
/// type) moved to a line of its own, after a newline and a space.
fn with_leader(leader: &str, text: &str) -> String {
    let mut out = format!("{leader} = ");
    let (first, rest) = match text.find('\n') {
        Some(end) => text.split_at(end + 1),
        None => (text, ""),
    };
    match first.find('{') {
        Some(brace) if !first[brace..].starts_with("{\n") => {
            out.push_str(&first[..brace]);
            out.push_str("\n {");
            out.push_str(&first[brace + 1..]);
        }
        _ => out.push_str(first),
    }
    out.push_str(rest);
    out
}

/// Which CPUs a crash cpuspec names: `a`/`all`, `N`, `N-M`, lists of those;
/// empty: the context CPU.
pub(crate) fn cpus(spec: &str, count: u32, context: Option<u32>) -> Result<Vec<u32>, String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return context
            .map(|c| vec![c])
            .ok_or_else(|| "no context task: name a CPU".to_string());
    }
    if spec == "a" || spec == "all" {
        return Ok((0..count).collect());
    }
    let mut out = Vec::new();
    for part in spec.split(',') {
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|&n| n < count)
                .ok_or_else(|| format!("invalid cpu specification: {spec}"))
        };
        match part.split_once('-') {
            Some((from, to)) => out.extend(number(from)?..=number(to)?),
            None => out.push(number(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// gdb's `whatis` of a variable as crash prints it: `struct rq runqueues;`,
/// `int cpu_number;`, `unsigned long foo[4];`.
fn declaration(type_name: &str, name: &str) -> String {
    match type_name.find(" [") {
        Some(at) => format!("{} {name}{};", &type_name[..at], &type_name[at + 1..]),
        None if type_name.ends_with('*') => format!("{type_name}{name};"),
        None => format!("{type_name} {name};"),
    }
}

pub fn print(program: &Program, q: &PrintQuery) -> Result<PrintReport, PrintError> {
    let types = program.types()?;
    let radix = if q.hex { Radix::Hex } else { Radix::Decimal };
    let mut warnings = Vec::new();
    let first = q
        .words
        .first()
        .ok_or_else(|| PrintError::Failed("p: an expression is needed".into()))?;
    // crash looks for `:cpuspec` at the end of the first word only.
    let (name, cpuspec) = match first.rsplit_once(':') {
        Some((name, spec)) => (name.to_string(), Some(spec.to_string())),
        None => (first.clone(), None),
    };
    let symbol = (q.words.len() == 1)
        .then(|| program.symbols().by_name(&name))
        .flatten();
    let per_cpu = symbol.filter(|s| program.is_per_cpu(s.address) && !s.is_text());

    let mut report = PrintReport {
        values: Vec::new(),
        per_cpu: None,
        warnings: Vec::new(),
    };
    let mut number = q.first_number;
    if let Some(symbol) = per_cpu {
        let count = program.cpu_count().unwrap_or(1);
        let type_name = types
            .variable(&symbol.name)
            .map(|ty| coroner_types::gdb::type_name(types, ty));
        let Some(spec) = cpuspec else {
            let addresses = (0..count)
                .filter_map(|cpu| Some((cpu, Addr(program.per_cpu_address(&symbol.name, cpu)?))))
                .collect();
            let declaration = match &type_name {
                Some(t) => declaration(t, &symbol.name),
                None => format!("[undetermined type] {};", symbol.name),
            };
            report.per_cpu = Some(PerCpuSummary {
                name: symbol.name.clone(),
                declaration,
                addresses,
            });
            report.warnings = warnings;
            return Ok(report);
        };
        for cpu in cpus(&spec, count, q.context_cpu).map_err(PrintError::Failed)? {
            let mut evaluator = Evaluator::new(program, types, Some(cpu));
            let value = evaluate(&mut evaluator, &symbol.name, number, radix)?;
            report.values.push(Printed {
                leader: Some(format!("per_cpu({}, {cpu})", symbol.name)),
                cpu: Some(cpu),
                ..value
            });
            number += 1;
        }
        report.warnings = warnings;
        return Ok(report);
    }

    let expression = match (&cpuspec, symbol) {
        (Some(_), Some(symbol)) => {
            warnings.push(Warning::new(
                Stage::Lookup,
                format!("{} is not percpu; cpuspec ignored.", symbol.name),
            ));
            symbol.name.clone()
        }
        _ => q.words.join(" "),
    };
    // A bare symbol: crash prints its name first.
    let leader = (q.words.len() == 1)
        .then(|| program.symbols().by_name(&expression))
        .flatten()
        .map(|s| s.name.clone());
    let mut evaluator = Evaluator::new(program, types, None);
    let value = evaluate(&mut evaluator, &expression, number, radix)?;
    for name in &evaluator.declared {
        warnings.push(Warning::new(
            Stage::Lookup,
            format!(
                "{name}: the kernel's types do not describe it; typed as the kernel source declares it"
            ),
        ));
    }
    report.values.push(Printed { leader, ..value });
    report.warnings = warnings;
    Ok(report)
}

fn evaluate(
    evaluator: &mut Evaluator,
    expression: &str,
    number: u32,
    radix: Radix,
) -> Result<Printed, PrintError> {
    let failed =
        |why: String| PrintError::Failed(format!("gdb request failed: p {expression}: {why}"));
    let parsed = expr::parse(expression).map_err(failed)?;
    let value = evaluator.eval(&parsed).map_err(failed)?;
    let address = match value {
        expr::Val::Object(o) => Some(Addr(o.address())),
        _ => None,
    };
    let shown = evaluator.show(value).map_err(failed)?;
    Ok(Printed {
        number,
        leader: None,
        expression: expression.to_string(),
        cpu: None,
        type_name: shown.type_name,
        address,
        value: (&shown.value).into(),
        text: format!("{}{}", shown.prefix, shown.value.gdb_text(radix, 0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaders_as_crash_writes_them() {
        assert_eq!(with_leader("jiffies", "$1 = 5\n"), "jiffies = $1 = 5\n");
        assert_eq!(
            with_leader("schedule", "$2 = {void (void)} 0x1 <schedule>\n"),
            "schedule = $2 = \n {void (void)} 0x1 <schedule>\n"
        );
        assert_eq!(
            with_leader("init_task", "$3 = {\n  a = 1\n}\n"),
            "init_task = $3 = {\n  a = 1\n}\n"
        );
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(cpus("a", 4, None).unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(cpus("1,3", 4, None).unwrap(), vec![1, 3]);
        assert_eq!(cpus("0-2", 4, None).unwrap(), vec![0, 1, 2]);
        assert_eq!(cpus("", 4, Some(2)).unwrap(), vec![2]);
        assert!(cpus("9", 4, None).is_err());
        assert!(cpus("x", 4, None).is_err());
    }

    #[test]
    fn declarations() {
        assert_eq!(
            declaration("struct rq", "runqueues"),
            "struct rq runqueues;"
        );
        assert_eq!(declaration("unsigned long [4]", "x"), "unsigned long x[4];");
        assert_eq!(declaration("struct rq *", "p"), "struct rq *p;");
    }
}
