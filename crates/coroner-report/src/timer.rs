//! `timer`: each CPU's timer wheel (`timer_bases[]`, a standard and, with
//! NO_HZ, a deferrable base), every pending `timer_list` sorted by expiry with
//! its time to expiry in jiffies and its function, as crash 8.0.2's
//! `dump_timer_data_timer_bases` prints them.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::{AnalysisError, Program};
use serde::Serialize;
use std::collections::HashSet;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct Timer {
    pub expires: u64,
    /// Jiffies from the dump's `jiffies` to expiry (negative: overdue).
    pub tte: i64,
    pub timer_list: Addr,
    pub function: Addr,
    /// The function's symbol (`process_timeout`, or `name+offset`).
    pub symbol: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimerBase {
    pub cpu: u32,
    /// `BASE_STD` or `BASE_DEF`.
    pub base: &'static str,
    pub address: Addr,
    pub timers: Vec<Timer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimerReport {
    pub jiffies: u64,
    pub bases: Vec<TimerBase>,
    pub warnings: Vec<Warning>,
}

impl Render for TimerReport {
    fn schema(&self) -> &'static str {
        "coroner.timer/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let jiffies = self.jiffies.to_string();
        let flen = jiffies.len().max("JIFFIES".len());
        writeln!(out, "{:<flen$}", "JIFFIES")?;
        writeln!(out, "{jiffies:>flen$}\n")?;
        let mut last_cpu = None;
        for base in &self.bases {
            if last_cpu.is_some() && last_cpu != Some(base.cpu) {
                writeln!(out)?;
            }
            last_cpu = Some(base.cpu);
            writeln!(
                out,
                "TIMER_BASES[{}][{}]: {:x}",
                base.cpu, base.base, base.address.0
            )?;
            let highest = base
                .timers
                .iter()
                .map(|t| t.tte.unsigned_abs())
                .max()
                .unwrap_or(0);
            // One more for a minus sign.
            let tlen = (highest.to_string().len() + 1).max(3);
            writeln!(
                out,
                "  {:<flen$}     {:<tlen$}     TIMER_LIST     FUNCTION",
                "EXPIRES", "TTE"
            )?;
            for t in &base.timers {
                writeln!(
                    out,
                    "  {:>flen$}  {:>tlen$}  {:^16}  {:>16x}  <{}>",
                    t.expires,
                    t.tte,
                    format!("{:>16x}", t.timer_list.0),
                    t.function.0,
                    t.symbol
                )?;
            }
            if base.timers.is_empty() {
                writeln!(out, "  (none)")?;
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

/// Most timers one wheel slot is followed for.
const MAX_CHAIN: usize = 1 << 16;

pub fn timer(program: &Program) -> Result<TimerReport, AnalysisError> {
    let types = program.types()?;
    let off = |ty: &str, path: &str| {
        types
            .offset_of(ty, path)
            .ok_or_else(|| AnalysisError::Layout(format!("{ty}.{path}")))
    };
    let vectors = off("timer_base", "vectors")?;
    let base_type = types
        .find("struct timer_base")
        .ok_or_else(|| AnalysisError::Layout("struct timer_base".into()))?;
    let base_size = types.size_of(base_type).unwrap_or(0);
    let slots = types
        .member(base_type, "vectors")
        .and_then(|f| match types.get(types.resolve(f.ty)) {
            Some(coroner_types::Type::Array(a)) => a.count,
            _ => None,
        })
        .ok_or_else(|| AnalysisError::Layout("timer_base.vectors[]".into()))?;
    let entry = off("timer_list", "entry")?;
    let expires = off("timer_list", "expires")?;
    let function = off("timer_list", "function")?;
    let jiffies = program.read_u64(
        program
            .address_of("jiffies")
            .ok_or(AnalysisError::NoSymbol("jiffies"))?,
    )?;
    let nr_bases = if program.address_of("sysctl_timer_migration").is_some() {
        2
    } else {
        1
    };
    let mut warnings = Warning::all(Stage::Program, program.warnings());
    let mut bases = Vec::new();
    for cpu in 0..program.cpu_count().unwrap_or(1) {
        let first = program
            .per_cpu_address("timer_bases", cpu)
            .ok_or(AnalysisError::NoSymbol("timer_bases"))?;
        for b in 0..nr_bases {
            let address = first + b * base_size;
            let mut timers = Vec::new();
            for slot in 0..slots {
                let mut node = program.read_u64(address + vectors + 8 * slot)?;
                let mut seen = HashSet::new();
                while node != 0 && seen.insert(node) && seen.len() <= MAX_CHAIN {
                    let timer = node - entry;
                    let (Ok(exp), Ok(func)) = (
                        program.read_u64(timer + expires),
                        program.read_u64(timer + function),
                    ) else {
                        warnings.push(Warning::new(
                            Stage::Lookup,
                            format!("timer_list at {timer:x} cannot be read"),
                        ));
                        break;
                    };
                    timers.push(Timer {
                        expires: exp,
                        tte: exp.wrapping_sub(jiffies) as i64,
                        timer_list: Addr(timer),
                        function: Addr(func),
                        symbol: symbol(program, func),
                    });
                    node = match program.read_u64(node) {
                        Ok(next) => next,
                        Err(_) => break,
                    };
                }
            }
            // glibc's qsort sorts these stably (a merge sort).
            timers.sort_by_key(|t| t.expires);
            bases.push(TimerBase {
                cpu,
                base: if b == 0 { "BASE_STD" } else { "BASE_DEF" },
                address: Addr(address),
                timers,
            });
        }
    }
    Ok(TimerReport {
        jiffies,
        bases,
        warnings,
    })
}

/// crash's name of a timer function: its symbol (`name+offset` inside one), or
/// that of the text a function descriptor points to.
fn symbol(program: &Program, address: u64) -> String {
    let text = |a: u64| {
        program
            .symbolize(a)
            .filter(|(s, _)| s.is_text())
            .map(|(s, off)| match off {
                0 => s.name.clone(),
                off => format!("{}+{off}", s.name),
            })
    };
    text(address)
        .or_else(|| program.read_u64(address).ok().and_then(text))
        .unwrap_or_default()
}
