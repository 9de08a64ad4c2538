//! Writing dumps. `capture` filters a running capture kernel's `/proc/vmcore` the way
//! makedumpfile does and writes it; `convert` rewrites any dump coroner reads (VMware
//! checkpoints included) as a standard vmcore. Both share the page filter and the
//! writers kept here.

pub mod convert;
pub mod elf;
