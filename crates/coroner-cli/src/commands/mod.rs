//! One module per subcommand. Each exposes `Args` (clap) and `run(&Args) -> Result<ExitCode, String>`.

pub mod dmesg;
pub mod info;
