//! Memory for the capture kernel: asked for on the command line, actually reserved,
//! and big enough for this machine.

use crate::bootcfg;
use crate::cmdline::{self, Bytes, CrashKernelArg, Spec};
use crate::distro::Family;
use crate::doctor::{Check, Context};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;
/// What the capture kernel needs to run beyond its image and initramfs (kdumpctl
/// estimate's runtime reservation).
const RUNTIME: u64 = 64 * MIB;

pub fn checks(ctx: &Context) -> Vec<Check> {
    let arg = match &ctx.cmdline {
        Ok(Some(c)) => cmdline::crashkernel(&cmdline::words(c)),
        _ => None,
    };
    let reserved = reserved_bytes(ctx);
    vec![
        on_cmdline(ctx, arg.as_ref(), reserved),
        reservation(ctx, arg.as_ref()),
        size(ctx, reserved),
    ]
}

/// The reference reservation for a machine's RAM (the table of the issue, as RHEL 8's
/// `crashkernel=auto`: 1G-64G:160M,64G-1T:256M,1T-:512M).
pub fn reference(ram: u64) -> u64 {
    if ram >= TIB {
        512 * MIB
    } else if ram >= 64 * GIB {
        256 * MIB
    } else {
        160 * MIB
    }
}

/// Bytes reserved now: kexec_crash_size, else the "Crash kernel" range of /proc/iomem.
fn reserved_bytes(ctx: &Context) -> Option<u64> {
    match &ctx.crash_size {
        Ok(Some(n)) => Some(*n),
        _ => {
            let m = ctx.iomem.as_ref().ok()?.as_ref()?;
            // The range is listed (sizes hidden or not) whenever something is reserved.
            if m.crash_kernel_listed {
                m.crash_kernel
            } else {
                Some(0)
            }
        }
    }
}

/// The exact way to set `crashkernel=` on this distribution.
pub fn set_crashkernel(ctx: &Context, size: u64) -> String {
    let value = format!("crashkernel={}M", size.div_ceil(MIB));
    match ctx.distro.family {
        Family::Rhel => format!("grubby --update-kernel=ALL --args=\"{value}\" && reboot"),
        Family::Debian => format!(
            "in /etc/default/grub.d/kdump-tools.cfg: GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT {value}\", then update-grub && reboot"
        ),
        Family::Unknown => format!("add {value} to the kernel command line in the boot loader, then reboot"),
    }
}

fn recommended(ctx: &Context) -> u64 {
    let table = ctx.ram.map_or(160 * MIB, reference);
    estimate(ctx).map_or(table, |e| table.max(e.total.next_multiple_of(32 * MIB)))
}

fn on_cmdline(ctx: &Context, arg: Option<&CrashKernelArg>, reserved: Option<u64>) -> Check {
    const ID: &str = "crashkernel.cmdline";
    let next_boot = bootcfg::crashkernel_next_boot(&ctx.root);
    let next = next_boot
        .iter()
        .map(|f| format!("crashkernel={} in {}", f.value, f.file))
        .collect::<Vec<_>>()
        .join(", ");
    match &ctx.cmdline {
        Err(e) => return Check::warn(ID, format!("{e}: cannot tell the kernel's command line")),
        Ok(None) if next_boot.is_empty() => {
            return Check::fail(ID, "no /proc/cmdline (not a running system) and no crashkernel= in the boot loader configuration")
                .fix(set_crashkernel(ctx, recommended(ctx)))
        }
        Ok(None) => return Check::pass(ID, format!("no /proc/cmdline (not a running system); the next boot gets {next}")),
        Ok(Some(_)) => {}
    }
    let Some(arg) = arg else {
        let message = "no crashkernel= on the kernel command line: no memory is reserved for the capture kernel";
        if next_boot.is_empty() {
            return Check::fail(ID, message).fix(set_crashkernel(ctx, recommended(ctx)));
        }
        return Check::fail(
            ID,
            format!("{message}; the boot loader has {next}: reboot to use it"),
        )
        .fix("reboot");
    };
    let spec = match &arg.spec {
        Err(why) => {
            return Check::fail(
                ID,
                format!(
                    "crashkernel={} is malformed ({why}): the kernel reserves nothing",
                    arg.raw
                ),
            )
            .fix(set_crashkernel(ctx, recommended(ctx)))
        }
        Ok(s) => s,
    };
    match spec {
        Spec::Auto => auto(ctx, reserved),
        Spec::Ranges { .. } => match ctx.ram.and_then(|ram| Some((ram, spec.size_for(ram)?))) {
            Some((ram, 0)) => Check::fail(
                ID,
                format!("crashkernel={}: no range covers this machine's {} of RAM, so nothing is reserved", arg.raw, Bytes(ram)),
            )
            .fix(set_crashkernel(ctx, recommended(ctx))),
            Some((ram, size)) => Check::pass(ID, format!("crashkernel={} (asks for {} with {} of RAM)", arg.raw, Bytes(size), Bytes(ram))),
            None => Check::pass(ID, format!("crashkernel={}", arg.raw)),
        },
        Spec::Fixed { high: true, .. } => {
            let low = arg.low.map_or("the kernel's default low part".to_string(), |l| format!("{} low", Bytes(l)));
            Check::pass(ID, format!("crashkernel={} (above 4 GiB, with {low} for DMA)", arg.raw))
        }
        Spec::Fixed { .. } => Check::pass(ID, format!("crashkernel={}", arg.raw)),
    }
}

/// RHEL's `crashkernel=auto`: only RHEL 6–8 kernels know it, only above a RAM
/// threshold, and it sizes for RAM alone.
fn auto(ctx: &Context, reserved: Option<u64>) -> Check {
    const ID: &str = "crashkernel.cmdline";
    let release = ctx.release.as_deref().unwrap_or("");
    let el = [6, 7, 8]
        .into_iter()
        .find(|n| release.contains(&format!(".el{n}")));
    let newer_el = release.contains(".el9") || release.contains(".el10");
    let fix = if newer_el {
        "kdumpctl reset-crashkernel --kernel=ALL && reboot".to_string()
    } else {
        set_crashkernel(ctx, recommended(ctx))
    };
    if reserved == Some(0) || (reserved.is_none() && el.is_none()) {
        let why = if newer_el {
            "RHEL 9 removed crashkernel=auto".to_string()
        } else if el.is_none() {
            format!(
                "only RHEL 6-8 kernels understand it, not {}",
                if release.is_empty() {
                    "this one"
                } else {
                    release
                }
            )
        } else {
            let threshold = if el == Some(8) { "1 GiB" } else { "2 GiB" };
            format!(
                "RHEL {} reserves nothing below {threshold} of RAM",
                el.unwrap_or(7)
            )
        };
        return Check::fail(ID, format!("crashkernel=auto reserved nothing: {why}")).fix(fix);
    }
    Check::pass(
        ID,
        "crashkernel=auto (sized from RAM alone; crashkernel.size checks it against what the capture kernel needs)",
    )
}

fn reservation(ctx: &Context, arg: Option<&CrashKernelArg>) -> Check {
    const ID: &str = "crashkernel.reserved";
    let iomem = match &ctx.iomem {
        Ok(Some(m)) if m.crash_kernel_listed && m.addresses_hidden => {
            "; \"Crash kernel\" in /proc/iomem (its addresses hidden from this user: run as root for sizes)"
        }
        Ok(Some(m)) if m.crash_kernel_listed => "; \"Crash kernel\" in /proc/iomem",
        Ok(Some(_)) => "; no \"Crash kernel\" in /proc/iomem",
        _ => "",
    };
    let fix = || set_crashkernel(ctx, recommended(ctx));
    match &ctx.crash_size {
        Ok(Some(0)) => {
            let why = match arg.map(|a| &a.spec) {
                None => "no crashkernel= on the command line".to_string(),
                Some(Err(_)) => "crashkernel= is malformed".to_string(),
                Some(Ok(Spec::Auto)) => "crashkernel=auto reserved nothing".to_string(),
                Some(Ok(Spec::Fixed { offset: Some(at), .. } | Spec::Ranges { offset: Some(at), .. })) => format!(
                    "the memory at the fixed offset @{} was not free: leave the offset out",
                    Bytes(*at)
                ),
                Some(Ok(_)) => "the kernel could not reserve what crashkernel= asks (see `dmesg | grep -i crashkernel`)".to_string(),
            };
            Check::fail(ID, format!("/sys/kernel/kexec_crash_size is 0: nothing reserved ({why}){iomem}")).fix(fix())
        }
        Ok(Some(n)) => Check::pass(ID, format!("{} reserved (/sys/kernel/kexec_crash_size){iomem}", Bytes(*n))),
        Ok(None) => match &ctx.iomem {
            Ok(Some(m)) if m.crash_kernel_listed => Check::pass(ID, "\"Crash kernel\" reserved in /proc/iomem (no /sys/kernel/kexec_crash_size)"),
            Ok(Some(_)) => Check::fail(ID, "no \"Crash kernel\" range in /proc/iomem: nothing reserved").fix(fix()),
            _ => Check::warn(ID, "cannot tell: no /sys/kernel/kexec_crash_size or /proc/iomem (not a running system?)"),
        },
        Err(e) => match &ctx.iomem {
            Ok(Some(m)) if m.crash_kernel_listed => Check::pass(ID, format!("\"Crash kernel\" reserved in /proc/iomem ({e})")),
            _ => Check::warn(ID, format!("{e}; cannot tell what is reserved")),
        },
    }
}

/// What the capture kernel needs, as `kdumpctl estimate` reckons it: its kernel image
/// in memory, its initramfs, and room to run.
pub struct Estimate {
    pub total: u64,
    pub kernel: u64,
    /// `None` when the capture initramfs is not built yet.
    pub initramfs: Option<u64>,
}

pub fn estimate(ctx: &Context) -> Option<Estimate> {
    let release = ctx.release.as_deref()?;
    let kernel = kernel_image_size(ctx, release)?;
    // Not built yet on a host where kdump never started: counted as nothing.
    let initramfs = [
        format!("/boot/initramfs-{release}kdump.img"),
        format!("/var/lib/kdump/initrd.img-{release}"),
        "/var/lib/kdump/initrd.img".to_string(),
    ]
    .iter()
    .find_map(|p| ctx.root.size(p));
    Some(Estimate {
        total: kernel + initramfs.unwrap_or(0) + RUNTIME,
        kernel,
        initramfs,
    })
}

/// The memory a bzImage needs once decompressed: `init_size` of the x86 boot
/// protocol header (offset 0x260, protocol 2.10 and later).
fn kernel_image_size(ctx: &Context, release: &str) -> Option<u64> {
    let head = ctx
        .root
        .read_bytes(&format!("/boot/vmlinuz-{release}"), 0x270)
        .ok()??;
    let u16_at = |o: usize| Some(u16::from_le_bytes(head.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(head.get(o..o + 4)?.try_into().ok()?));
    if head.get(0x202..0x206)? != b"HdrS" || u16_at(0x206)? < 0x020a {
        return None;
    }
    Some(u64::from(u32_at(0x260)?))
}

fn size(ctx: &Context, reserved: Option<u64>) -> Check {
    const ID: &str = "crashkernel.size";
    let Some(ram) = ctx.ram else {
        let why = match &ctx.iomem {
            Err(e) => format!("{e}, and no MemTotal in /proc/meminfo"),
            _ => "no readable /proc/iomem or MemTotal in /proc/meminfo".to_string(),
        };
        return Check::warn(ID, format!("cannot tell this machine's RAM: {why}"));
    };
    let table = reference(ram);
    let est = estimate(ctx);
    let need = match &est {
        Some(e) => format!(
            "the capture kernel needs about {} (kernel {} + initramfs {} + {} to run)",
            Bytes(e.total),
            Bytes(e.kernel),
            e.initramfs
                .map_or("not built yet".to_string(), |i| Bytes(i).to_string()),
            Bytes(RUNTIME)
        ),
        None => "no /boot/vmlinuz of this kernel to measure the capture kernel by".to_string(),
    };
    let fix = set_crashkernel(ctx, recommended(ctx));
    let Some(reserved) = reserved else {
        return Check::warn(
            ID,
            format!(
                "cannot tell what is reserved; the reference for {} of RAM is {}",
                Bytes(ram),
                Bytes(table)
            ),
        );
    };
    let facts = format!(
        "{} reserved for {} of RAM (reference {}); {need}",
        Bytes(reserved),
        Bytes(ram),
        Bytes(table)
    );
    if reserved == 0 {
        return Check::fail(ID, facts).fix(fix);
    }
    if est.is_some_and(|e| reserved < e.total) {
        return Check::fail(
            ID,
            format!("{facts}: the capture kernel will run out of memory"),
        )
        .fix(fix);
    }
    if reserved < table {
        return Check::warn(
            ID,
            format!("{facts}: below the reference, a capture can run out of memory"),
        )
        .fix(fix);
    }
    Check::pass(ID, facts)
}
