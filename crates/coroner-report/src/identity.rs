//! Which kernel a dump holds: one answer for `info`, `triage`, `sys` and the
//! server, each field from the best record the dump has.

use crate::schema::Addr;
use crate::time::utc_iso8601;
use coroner_dump::Dump;
use coroner_kernel::VmcoreInfo;
use serde::Serialize;

/// The kernel's identity as the dump records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KernelIdentity {
    /// The kernel release: VMCOREINFO's `OSRELEASE`, else the kdump header's
    /// utsname, else the `Linux version` banner found in memory.
    pub release: Option<String>,
    /// Where `release` came from: `vmcoreinfo`, `kdump-header` or `banner`.
    pub release_from: Option<&'static str>,
    /// VMCOREINFO's `BUILD-ID` (absent before Linux 5.9 and on RHEL 7).
    pub build_id: Option<String>,
    /// VMCOREINFO's `KERNELOFFSET` (KASLR).
    pub kaslr_offset: Option<Addr>,
    /// VMCOREINFO's `NUMBER(phys_base)`, else the kdump sub-header's.
    pub phys_base: Option<Addr>,
    /// `x86_64`, `aarch64`, ... from the ELF machine or the kdump header.
    pub arch: Option<String>,
    /// UTC ISO 8601, from VMCOREINFO's `CRASHTIME` or the kdump header.
    pub crash_time: Option<String>,
}

impl KernelIdentity {
    pub fn read(dump: &Dump) -> KernelIdentity {
        let info = dump.info();
        let vmci = VmcoreInfo::parse(dump.vmcoreinfo().unwrap_or_default());
        let (release, release_from) = if let Some(r) = vmci.osrelease() {
            (Some(r.to_string()), Some("vmcoreinfo"))
        } else if let Some(r) = info.header_release.clone() {
            (Some(r), Some("kdump-header"))
        } else if let Some(r) = dump.banner_release() {
            (Some(r), Some("banner"))
        } else {
            (None, None)
        };
        KernelIdentity {
            release,
            release_from,
            build_id: vmci.build_id().map(str::to_string),
            kaslr_offset: vmci.kernel_offset().map(Addr),
            phys_base: vmci
                .number("phys_base")
                .map(|p| p as u64)
                .or(info.phys_base)
                .map(Addr),
            arch: info.arch.clone(),
            crash_time: vmci.crash_time().or(info.header_time).map(utc_iso8601),
        }
    }
}
