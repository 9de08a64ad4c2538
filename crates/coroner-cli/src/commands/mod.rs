//! One module per subcommand. Each exposes `Args` (clap) and `run(&Args) -> Result<ExitCode, String>`.

pub mod address;
pub mod bt;
pub mod dmesg;
pub mod doctor;
pub mod info;
pub mod modules;
pub mod nmi;
pub mod ps;
pub mod rd;
pub mod structure;
pub mod sym;
pub mod sys;
pub mod triage;
