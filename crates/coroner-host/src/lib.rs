//! Host readiness for kernel crash dumps, and the NMI that triggers one.
//!
//! - [`doctor`]: checks over a [`Root`] (`/`, or a tree standing for a host: a
//!   mounted image, a test fixture): crashkernel, the kdump service and its
//!   configuration, kernel support, panic settings by role, the dump target, the
//!   platform. [`fix`] turns what the checks can repair into atomic file edits.
//! - [`nmi`]: the NMI routes (native QMP; virsh, ipmitool, the AWS CLI,
//!   vm-support; sysrq).
//!
//! Everything reads through [`Root`], so nothing here looks at the machine running
//! it unless the root is `/`.

mod atomic;
mod bootcfg;
mod checks;
pub mod cmdline;
pub mod distro;
pub mod doctor;
pub mod fix;
pub mod kdump_config;
pub mod nmi;
pub mod platform;
mod procfs;
pub mod root;
mod shellvars;
pub mod space;
pub mod sysctl;

pub use doctor::{audit, Check, Context, Report, Status, Verdict};
pub use platform::Role;
pub use root::Root;

#[cfg(test)]
mod testutil {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh empty directory for one test.
    pub fn temp_dir(name: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "coroner-host-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
