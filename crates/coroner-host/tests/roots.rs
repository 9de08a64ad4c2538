//! `doctor` on the host trees of tests/roots (their README says what each is):
//! verdicts, checks and exact fixes, `--fix` on copies, and broken input.

use coroner_host::fix;
use coroner_host::platform::Kind;
use coroner_host::{audit, Check, Context, Report, Role, Root, Status, Verdict};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

fn roots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/roots")
}

fn doctor_at(dir: &Path, role: Option<Role>) -> (Context, Report) {
    let ctx = Context::read(Root::new(dir).unwrap(), role);
    let report = audit(&ctx);
    (ctx, report)
}

fn doctor(name: &str) -> Report {
    doctor_at(&roots().join(name), None).1
}

fn check<'a>(r: &'a Report, id: &str) -> &'a Check {
    r.checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

/// The checks that did not pass, as (id, status).
fn not_passed(r: &Report) -> Vec<(&str, Status)> {
    r.checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .map(|c| (c.id.as_str(), c.status))
        .collect()
}

fn assert_message(r: &Report, id: &str, part: &str) {
    let c = check(r, id);
    assert!(
        c.message.contains(part),
        "{id}: {:?} lacks {part:?}",
        c.message
    );
}

/// A copy of a fixture tree (symlinks kept as links) to change.
fn copy(name: &str) -> PathBuf {
    let dst = std::env::temp_dir().join(format!(
        "coroner-roots-{name}-{}-{}",
        std::process::id(),
        unique()
    ));
    let _ = fs::remove_dir_all(&dst);
    copy_tree(&roots().join(name), &dst);
    dst
}

fn unique() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn copy_tree(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let (from, to) = (e.path(), dst.join(e.file_name()));
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            symlink(fs::read_link(&from).unwrap(), &to).unwrap();
        } else if t.is_dir() {
            copy_tree(&from, &to);
        } else {
            fs::copy(&from, &to).unwrap();
        }
    }
}

/// Every file of a tree with its content (links as their targets), to compare.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                out.push((
                    p.clone(),
                    fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                ));
            } else if m.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn apply_fixes(dir: &Path) -> (fix::Plan, Report) {
    let (ctx, report) = doctor_at(dir, None);
    let mut plan = fix::plan(&ctx, &report).unwrap();
    fix::apply(&ctx, &mut plan).unwrap();
    (plan, doctor_at(dir, None).1)
}

fn read(dir: &Path, path: &str) -> String {
    fs::read_to_string(dir.join(path.trim_start_matches('/'))).unwrap()
}

#[test]
fn rhel7_ready_passes_everything() {
    let r = doctor("rhel7-ready");
    assert_eq!(not_passed(&r), []);
    assert_eq!(r.verdict, Verdict::Ready);
    assert_eq!((r.platform.kind, r.role), (Kind::Kvm, Role::Guest));
    assert_eq!(r.kernel.as_deref(), Some("3.10.0-1160.el7.x86_64"));
    assert_message(&r, "crashkernel.cmdline", "crashkernel=auto");
    assert_message(
        &r,
        "crashkernel.size",
        "161 MiB reserved for 8.0 GiB of RAM (reference 160 MiB)",
    );
    assert_message(&r, "crashkernel.size", "kernel 30.5 MiB");
    assert_message(
        &r,
        "panic.unknown_nmi_panic",
        "(/etc/sysctl.d/90-kdump.conf:3)",
    );
    assert_message(
        &r,
        "target.space",
        "/var/crash on its own filesystem /var/crash (xfs /dev/mapper/rhel-crash): 19.9 GiB free",
    );
    assert_eq!(
        r.platform.nmi_route.as_deref(),
        Some("coroner nmi libvirt:DOMAIN")
    );
}

#[test]
fn rhel7_with_nothing_set_up_is_not_ready_and_says_exactly_what_to_do() {
    let r = doctor("rhel7-bare");
    assert_eq!(r.verdict, Verdict::NotReady);
    assert_eq!(
        not_passed(&r),
        [
            ("crashkernel.cmdline", Status::Fail),
            ("crashkernel.reserved", Status::Fail),
            ("crashkernel.size", Status::Fail),
            ("kdump.service", Status::Fail),
            ("kdump.loaded", Status::Fail),
            ("panic.unknown_nmi_panic", Status::Warn),
            ("panic.panic", Status::Warn),
            ("panic.sysrq", Status::Warn),
            ("panic.nmi_watchdog", Status::Warn),
        ]
    );
    let grubby = "grubby --update-kernel=ALL --args=\"crashkernel=160M\" && reboot";
    assert_eq!(
        check(&r, "crashkernel.cmdline").fix.as_deref(),
        Some(grubby)
    );
    assert_eq!(
        check(&r, "kdump.service").fix.as_deref(),
        Some("systemctl enable --now kdump.service")
    );
    assert_eq!(
        check(&r, "panic.sysrq").fix.as_deref(),
        Some("kernel.sysrq = 24 in /etc/sysctl.d/99-coroner.conf, then sysctl --system")
    );
    assert_message(&r, "crashkernel.size", "initramfs not built yet");

    let dir = copy("rhel7-bare");
    let (plan, after) = apply_fixes(&dir);
    assert_eq!(
        read(&dir, "/etc/sysctl.d/99-coroner.conf"),
        "# Written by `coroner doctor --fix` (role: guest): panic settings for kdump.\n\
         kernel.nmi_watchdog = 0\nkernel.panic = 10\nkernel.sysrq = 24\nkernel.unknown_nmi_panic = 1\n"
    );
    assert_eq!(read(&dir, "/proc/sys/kernel/sysrq"), "24\n");
    assert!(
        plan.manual
            .iter()
            .any(|m| m == &format!("crashkernel.cmdline: {grubby}")),
        "{:?}",
        plan.manual
    );
    // What needs a person is left; the panic settings are done.
    assert_eq!(
        not_passed(&after),
        [
            ("crashkernel.cmdline", Status::Fail),
            ("crashkernel.reserved", Status::Fail),
            ("crashkernel.size", Status::Fail),
            ("kdump.service", Status::Fail),
            ("kdump.loaded", Status::Fail),
        ]
    );
    assert_message(
        &after,
        "panic.panic",
        "kernel.panic = 10 (/etc/sysctl.d/99-coroner.conf:3)",
    );

    // Judged as a bare-metal server, coroner's own file is edited, not rewritten blind.
    let (ctx, r) = doctor_at(&dir, Some(Role::Server));
    let plan = fix::plan(&ctx, &r).unwrap();
    let own = plan
        .changes
        .iter()
        .find(|c| c.path == "/etc/sysctl.d/99-coroner.conf")
        .unwrap();
    assert_eq!(own.kind, fix::Kind::Edit);
    assert_eq!(
        own.removed,
        [
            "# Written by `coroner doctor --fix` (role: guest): panic settings for kdump.",
            "kernel.nmi_watchdog = 0",
            "kernel.unknown_nmi_panic = 1"
        ]
    );
    // Bare metal keeps the watchdog and gives up unknown-NMI panics (panic.nmi_watchdog).
    assert_eq!(
        own.added,
        [
            "# Written by `coroner doctor --fix` (role: server): panic settings for kdump.",
            "kernel.hardlockup_panic = 1",
            "kernel.nmi_watchdog = 1",
            "kernel.panic_on_io_nmi = 1",
            "kernel.softlockup_panic = 1",
            "kernel.unknown_nmi_panic = 0",
        ]
    );
}

#[test]
fn amazon_linux_2_on_nitro_as_the_aws_runbook_sets_it_up() {
    let r = doctor("al2-ec2-nitro");
    assert_eq!(r.verdict, Verdict::Warnings);
    assert_eq!(
        not_passed(&r),
        [("panic.panic", Status::Warn), ("panic.sysrq", Status::Warn)]
    );
    assert_eq!(r.platform.kind, Kind::Ec2Nitro);
    assert_eq!(
        r.platform.instance_id.as_deref(),
        Some("i-0123456789abcdef0")
    );
    assert_eq!(
        r.platform.nmi_route.as_deref(),
        Some("coroner nmi aws:i-0123456789abcdef0")
    );
    assert_message(&r, "crashkernel.cmdline", "crashkernel=160M");
    assert_message(
        &r,
        "panic.unknown_nmi_panic",
        "kernel.unknown_nmi_panic = 1 (/etc/sysctl.conf:5)",
    );
    assert_message(&r, "kdump.lockdown", "lockdown none");
}

#[test]
fn debian_with_kdump_tools_on_bare_metal() {
    let r = doctor("debian12-kdump-tools");
    assert_eq!(r.verdict, Verdict::Warnings);
    assert_eq!((r.platform.kind, r.role), (Kind::BareMetal, Role::Server));
    let warned: Vec<&str> = not_passed(&r)
        .iter()
        .map(|(id, s)| {
            assert_eq!(*s, Status::Warn, "{id}");
            *id
        })
        .collect();
    assert_eq!(
        warned,
        [
            "crashkernel.size",
            "panic.panic_on_io_nmi",
            "panic.softlockup_panic",
            "panic.hardlockup_panic",
            "panic.panic",
            "panic.sysrq",
        ]
    );
    assert_message(
        &r,
        "crashkernel.cmdline",
        "crashkernel=384M-:128M (asks for 128 MiB with 31.7 GiB of RAM)",
    );
    assert_message(&r, "crashkernel.size", "kernel 63.6 MiB");
    assert_eq!(
        check(&r, "crashkernel.size").fix.as_deref(),
        Some("in /etc/default/grub.d/kdump-tools.cfg: GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=160M\", then update-grub && reboot")
    );
    // kdump-tools sets panic_on_oops itself each time it loads.
    assert_message(
        &r,
        "panic.panic_on_oops",
        "(KDUMP_SYSCTL of /etc/default/kdump-tools)",
    );
    assert_message(
        &r,
        "kdump.lockdown",
        "lockdown integrity, Secure Boot on: kexec_load is refused",
    );
    assert_message(&r, "kdump.service", "kdump-tools.service enabled");
    assert_message(
        &r,
        "target.collector",
        "`makedumpfile -c -d 31`: dump level 31, zlib compression",
    );
    assert_message(&r, "target.space", "on the root filesystem");
    assert_eq!(
        check(&r, "panic.sysrq").fix.as_deref(),
        Some("kernel.sysrq = 446 in /etc/sysctl.d/99-coroner.conf, then sysctl --system")
    );
    assert_eq!(
        r.platform.nmi_route.as_deref(),
        Some("coroner nmi ipmi:BMC_ADDRESS")
    );

    // A hypervisor host is not told to panic on soft lockups.
    let (_, hv) = doctor_at(
        &roots().join("debian12-kdump-tools"),
        Some(Role::Hypervisor),
    );
    assert_eq!(check(&hv, "panic.softlockup_panic").status, Status::Pass);
    assert_eq!(check(&hv, "panic.hardlockup_panic").status, Status::Warn);

    let dir = copy("debian12-kdump-tools");
    let (_, after) = apply_fixes(&dir);
    assert_eq!(not_passed(&after), [("crashkernel.size", Status::Warn)]);
    assert_message(
        &after,
        "panic.nmi_watchdog",
        "the NMI watchdog is on (kernel.nmi_watchdog = 1) and unknown NMIs do not panic",
    );
}

#[test]
fn vmware_guest_with_an_ssh_target_is_fixed_to_ready() {
    let r = doctor("rhel8-vmware");
    assert_eq!(r.verdict, Verdict::NotReady);
    assert_eq!((r.platform.kind, r.role), (Kind::Vmware, Role::Guest));
    assert_eq!(
        not_passed(&r),
        [
            ("panic.softlockup_panic", Status::Warn),
            ("panic.hung_task_panic", Status::Warn),
            ("panic.sysrq", Status::Warn),
            ("panic.nmi_watchdog", Status::Warn),
            ("target.collector", Status::Fail),
        ]
    );
    assert_message(&r, "target.collector", "the ssh and raw targets need -F");
    assert_message(
        &r,
        "panic.sysrq",
        "kernel.sysrq = 1 now, but /usr/lib/sysctl.d/50-default.conf:2 sets 16 for the next boot",
    );
    assert_message(
        &r,
        "target.location",
        "ssh kdump@dumps.example.com:/var/crash, key /root/.ssh/kdump_fixture_key",
    );
    assert_eq!(
        r.platform.nmi_route.as_deref(),
        Some("coroner nmi esxi:/vmfs/volumes/DATASTORE/VM/VM.vmx")
    );

    // Planning alone changes nothing (what --dry-run shows).
    let dir = copy("rhel8-vmware");
    let before = snapshot(&dir);
    let (ctx, report) = doctor_at(&dir, None);
    let plan = fix::plan(&ctx, &report).unwrap();
    assert_eq!(snapshot(&dir), before);
    let paths: Vec<(&str, fix::Kind)> = plan
        .changes
        .iter()
        .map(|c| (c.path.as_str(), c.kind))
        .collect();
    assert_eq!(
        paths,
        [
            ("/etc/sysctl.d/99-coroner.conf", fix::Kind::Create),
            ("/proc/sys/kernel/hung_task_panic", fix::Kind::Live),
            ("/proc/sys/kernel/nmi_watchdog", fix::Kind::Live),
            ("/proc/sys/kernel/softlockup_panic", fix::Kind::Live),
            ("/etc/kdump.conf", fix::Kind::Edit),
        ]
    );

    let (plan, after) = apply_fixes(&dir);
    assert!(
        plan.manual.contains(
            &"/etc/kdump.conf changed: systemctl restart kdump (rebuilds the capture initramfs)"
                .to_string()
        ),
        "{:?}",
        plan.manual
    );
    assert_eq!(not_passed(&after), []);
    assert_eq!(after.verdict, Verdict::Ready);
    let conf = plan
        .changes
        .iter()
        .find(|c| c.path == "/etc/kdump.conf")
        .unwrap();
    assert_eq!(conf.backup.as_deref(), Some("/etc/kdump.conf.coroner-bak"));
    assert_eq!(
        conf.removed,
        ["core_collector makedumpfile -l --message-level 7 -d 31"]
    );
    assert_eq!(
        conf.added,
        ["core_collector makedumpfile -F -l --message-level 7 -d 31"]
    );
    let old = read(&dir, "/etc/kdump.conf.coroner-bak");
    let new = read(&dir, "/etc/kdump.conf");
    assert_eq!(old, read(&roots().join("rhel8-vmware"), "/etc/kdump.conf"));
    let differing: Vec<_> = old
        .lines()
        .zip(new.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(differing.len(), 1);
    assert_eq!(old.lines().count(), new.lines().count());
}

#[test]
fn broken_input_gives_clear_messages_and_no_panic() {
    let r = doctor("malformed");
    assert_eq!(r.verdict, Verdict::NotReady);
    for (id, part) in [
        (
            "crashkernel.cmdline",
            "cannot read /proc/cmdline: Is a directory",
        ),
        (
            "crashkernel.reserved",
            "/sys/kernel/kexec_crash_size holds `abc`, not a number",
        ),
        (
            "crashkernel.size",
            "/proc/iomem is malformed: line 2: not `start-end : name`: System RAM everywhere",
        ),
        ("kdump.service", "kdump.service is masked"),
        (
            "kdump.loaded",
            "/sys/kernel/kexec_crash_loaded holds `yes`, not 0 or 1",
        ),
        ("kdump.config", "line 1: `path` has no value"),
        (
            "kdump.config",
            "line 3: more than one dump target (kdumpctl refuses to start)",
        ),
        (
            "kdump.config",
            "line 5: unknown directive `bogus_directive`",
        ),
        (
            "kdump.lockdown",
            "cannot read /sys/kernel/security/lockdown",
        ),
        (
            "kernel.config",
            "/boot/config-9.9.9-broken has no CONFIG_ lines",
        ),
        (
            "panic.sysctl_files",
            "/etc/sysctl.d/10-bad.conf: line 2: not `key = value`: just words",
        ),
        (
            "panic.sysctl_files",
            "cannot read /etc/sysctl.d/99-loop.conf: too many levels of symbolic links",
        ),
        (
            "panic.panic_on_oops",
            "/etc/sysctl.d/10-bad.conf:1 sets kernel.panic_on_oops = one, not a number",
        ),
        (
            "panic.panic",
            "/proc/sys/kernel/panic holds `ten`, not a number",
        ),
        (
            "panic.sysrq",
            "cannot read /proc/sys/kernel/sysrq: Is a directory",
        ),
    ] {
        assert_message(&r, id, part);
    }
    assert_eq!(check(&r, "kdump.config").status, Status::Fail);
    // --fix on a broken tree: only what it can do (the unreadable live values are
    // left alone), and the bad panic_on_oops line is overridden.
    let dir = copy("malformed");
    let (ctx, report) = doctor_at(&dir, None);
    let mut plan = fix::plan(&ctx, &report).unwrap();
    fix::apply(&ctx, &mut plan).unwrap();
    let paths: Vec<&str> = plan.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/etc/sysctl.d/99-coroner.conf"]);
    assert!(read(&dir, "/etc/sysctl.d/99-coroner.conf").ends_with("\nkernel.panic_on_oops = 1\n"));
    // The tree's /proc/sys has no panic_on_oops: that is all that is left to say.
    assert_message(
        &doctor_at(&dir, None).1,
        "panic.panic_on_oops",
        "this kernel has no kernel.panic_on_oops",
    );
}

#[test]
fn a_fix_that_cannot_be_written_leaves_no_half_file() {
    let dir = copy("rhel7-bare");
    // Something that is not a file where coroner's sysctl.d file goes.
    fs::create_dir_all(dir.join("etc/sysctl.d/99-coroner.conf")).unwrap();
    let before = snapshot(&dir);
    let (ctx, report) = doctor_at(&dir, None);
    let e = fix::plan(&ctx, &report).unwrap_err();
    assert!(
        e.contains("cannot read /etc/sysctl.d/99-coroner.conf"),
        "{e}"
    );
    fs::remove_dir(dir.join("etc/sysctl.d/99-coroner.conf")).unwrap();
    fs::write(
        dir.join("etc/sysctl.d/99-coroner.conf"),
        "kernel.panic = 5\n",
    )
    .unwrap();
    let mut p = fix::plan(&ctx, &report).unwrap();
    // Now make the write itself fail: the file turns into a directory after planning.
    fs::remove_file(dir.join("etc/sysctl.d/99-coroner.conf")).unwrap();
    fs::create_dir(dir.join("etc/sysctl.d/99-coroner.conf")).unwrap();
    let e = fix::apply(&ctx, &mut p).unwrap_err();
    assert!(
        e.contains("is not a regular file; not replacing it (nothing changed)"),
        "{e}"
    );
    assert_eq!(
        snapshot(&dir),
        before,
        "nothing written, no temporary file left"
    );
}

#[test]
fn crashkernel_pitfalls() {
    let set = |dir: &Path, path: &str, text: &str| {
        let p = dir.join(path.trim_start_matches('/'));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    };

    // A big capture initramfs outgrows the reservation (sparse: no disk used).
    let dir = copy("rhel7-ready");
    let img = fs::OpenOptions::new()
        .write(true)
        .open(dir.join("boot/initramfs-3.10.0-1160.el7.x86_64kdump.img"))
        .unwrap();
    img.set_len(100 << 20).unwrap();
    let (_, r) = doctor_at(&dir, None);
    assert_eq!(check(&r, "crashkernel.size").status, Status::Fail);
    assert_message(&r, "crashkernel.size", "needs about 194.5 MiB (kernel 30.5 MiB + initramfs 100 MiB + 64 MiB to run): the capture kernel will run out of memory");
    assert_eq!(
        check(&r, "crashkernel.size").fix.as_deref(),
        Some("grubby --update-kernel=ALL --args=\"crashkernel=224M\" && reboot")
    );

    // RHEL 9 dropped crashkernel=auto: nothing reserved.
    let dir = copy("rhel7-ready");
    set(
        &dir,
        "/proc/sys/kernel/osrelease",
        "5.14.0-70.13.1.el9_0.x86_64\n",
    );
    set(&dir, "/sys/kernel/kexec_crash_size", "0\n");
    let (_, r) = doctor_at(&dir, None);
    assert_message(
        &r,
        "crashkernel.cmdline",
        "crashkernel=auto reserved nothing: RHEL 9 removed crashkernel=auto",
    );
    assert_eq!(
        check(&r, "crashkernel.cmdline").fix.as_deref(),
        Some("kdumpctl reset-crashkernel --kernel=ALL && reboot")
    );

    // RHEL 7's auto below 2 GiB of RAM.
    let dir = copy("rhel7-ready");
    set(&dir, "/sys/kernel/kexec_crash_size", "0\n");
    set(
        &dir,
        "/proc/iomem",
        "00001000-0009fbff : System RAM\n00100000-5fffffff : System RAM\n",
    );
    let (_, r) = doctor_at(&dir, None);
    assert_message(
        &r,
        "crashkernel.cmdline",
        "RHEL 7 reserves nothing below 2 GiB of RAM",
    );
    assert_eq!(check(&r, "crashkernel.reserved").status, Status::Fail);

    // Ranges that miss this machine's RAM.
    let dir = copy("debian12-kdump-tools");
    set(
        &dir,
        "/proc/cmdline",
        "ro quiet crashkernel=1G-4G:192M,4G-16G:256M\n",
    );
    set(&dir, "/sys/kernel/kexec_crash_size", "0\n");
    let (_, r) = doctor_at(&dir, None);
    assert_message(
        &r,
        "crashkernel.cmdline",
        "no range covers this machine's 31.7 GiB of RAM",
    );

    // Set for the next boot only.
    let dir = copy("rhel7-bare");
    set(
        &dir,
        "/etc/default/grub",
        "GRUB_CMDLINE_LINUX=\"crashkernel=256M rhgb quiet\"\n",
    );
    let (_, r) = doctor_at(&dir, None);
    assert_message(
        &r,
        "crashkernel.cmdline",
        "the boot loader has crashkernel=256M in /etc/default/grub: reboot to use it",
    );
    assert_eq!(
        check(&r, "crashkernel.cmdline").fix.as_deref(),
        Some("reboot")
    );

    // A fixed offset whose memory was taken; a high reservation with its low part.
    set(&dir, "/proc/cmdline", "ro crashkernel=256M@16M\n");
    let (_, r) = doctor_at(&dir, None);
    assert_message(
        &r,
        "crashkernel.reserved",
        "the memory at the fixed offset @16 MiB was not free: leave the offset out",
    );
    set(
        &dir,
        "/proc/cmdline",
        "ro crashkernel=512M,high crashkernel=72M,low\n",
    );
    let (_, r) = doctor_at(&dir, None);
    assert_message(
        &r,
        "crashkernel.cmdline",
        "crashkernel=512M,high (above 4 GiB, with 72 MiB low for DMA)",
    );

    // A malformed value.
    set(&dir, "/proc/cmdline", "ro crashkernel=256Q\n");
    let (_, r) = doctor_at(&dir, None);
    assert_message(&r, "crashkernel.cmdline", "crashkernel=256Q is malformed (`256Q` is not a size (like 256M)): the kernel reserves nothing");
}

#[test]
fn dump_target_problems() {
    let dir = copy("rhel7-ready");
    let conf = dir.join("etc/kdump.conf");
    // cp copies everything; and a full dump does not fit in 1 GiB.
    let text = read(&dir, "/etc/kdump.conf").replace(
        "core_collector makedumpfile -l --message-level 1 -d 31",
        "core_collector cp",
    );
    fs::write(&conf, text).unwrap();
    fs::write(
        dir.join(".coroner-statvfs"),
        format!(
            "/ {} {}\n/var/crash {} {}\n",
            30u64 << 30,
            45u64 << 30,
            1u64 << 30,
            20u64 << 30
        ),
    )
    .unwrap();
    let (ctx, r) = doctor_at(&dir, None);
    assert_message(
        &r,
        "target.collector",
        "`cp` copies all of memory, unfiltered and uncompressed",
    );
    assert_eq!(check(&r, "target.space").status, Status::Fail);
    assert_message(&r, "target.space", "1 GiB free; a -d 0 dump of this machine is up to 8.0 GiB before compression: it does not fit");
    let plan = fix::plan(&ctx, &r).unwrap();
    let edit = plan
        .changes
        .iter()
        .find(|c| c.path == "/etc/kdump.conf")
        .unwrap();
    assert_eq!(
        edit.added,
        ["core_collector makedumpfile -l --message-level 7 -d 31"]
    );

    // A missing dump directory stops mkdumprd; a missing ssh key stops the capture.
    let dir = copy("rhel7-ready");
    fs::remove_dir_all(dir.join("var/crash")).unwrap();
    let (_, r) = doctor_at(&dir, None);
    assert_eq!(check(&r, "target.location").status, Status::Fail);
    assert_eq!(
        check(&r, "target.location").fix.as_deref(),
        Some("mkdir -p /var/crash")
    );
    let dir = copy("rhel8-vmware");
    fs::remove_file(dir.join("root/.ssh/kdump_fixture_key")).unwrap();
    let (_, r) = doctor_at(&dir, None);
    assert_message(
        &r,
        "target.location",
        "the ssh key /root/.ssh/kdump_fixture_key does not exist",
    );
    assert_eq!(
        check(&r, "target.location").fix.as_deref(),
        Some("kdumpctl propagate (makes the key and installs it on kdump@dumps.example.com)")
    );

    // kdump-tools with USE_KDUMP=0 and no compression: --fix edits the file.
    let dir = copy("debian12-kdump-tools");
    let kt = read(&dir, "/etc/default/kdump-tools").replace("USE_KDUMP=1", "USE_KDUMP=0");
    fs::write(
        dir.join("etc/default/kdump-tools"),
        kt.replace(
            "#MAKEDUMP_ARGS=\"-c -d 31\"",
            "#MAKEDUMP_ARGS=\"-c -d 31\"\nMAKEDUMP_ARGS=\"-d 1\"",
        ),
    )
    .unwrap();
    let (ctx, r) = doctor_at(&dir, None);
    assert_eq!(check(&r, "kdump.service").status, Status::Fail);
    assert_message(&r, "target.collector", "-d 1 keeps free pages");
    let mut plan = fix::plan(&ctx, &r).unwrap();
    fix::apply(&ctx, &mut plan).unwrap();
    let kt = read(&dir, "/etc/default/kdump-tools");
    assert!(kt.contains("\nUSE_KDUMP=\"1\"\n"), "{kt}");
    assert!(kt.contains("\nMAKEDUMP_ARGS=\"-c -d 17\"\n"), "{kt}");
    let (_, r) = doctor_at(&dir, None);
    assert_eq!(check(&r, "kdump.service").status, Status::Pass);
    assert_eq!(check(&r, "target.collector").status, Status::Pass);
}

/// Writes a file of a tree, with its folders.
fn put(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// `--fix` on a tree judged as `role`, and the report after it.
fn apply_fixes_as(dir: &Path, role: Role) -> (fix::Plan, Report) {
    let (ctx, report) = doctor_at(dir, Some(role));
    let mut plan = fix::plan(&ctx, &report).unwrap();
    fix::apply(&ctx, &mut plan).unwrap();
    (plan, doctor_at(dir, Some(role)).1)
}

/// A copy of a changed tree.
fn copy_of(dir: &Path) -> PathBuf {
    let dst = dir.with_file_name(format!(
        "{}-{}",
        dir.file_name().unwrap().to_str().unwrap(),
        unique()
    ));
    copy_tree(dir, &dst);
    dst
}

const CORONER_CONF: &str = "/etc/sysctl.d/99-coroner.conf";

#[test]
fn unknown_nmi_panic_beside_the_nmi_watchdog_on_a_current_kernel() {
    // The Debian 12 server (6.1, watchdog on) with unknown_nmi_panic = 1 added, as an
    // NMI runbook written for guests says.
    let dir = copy("debian12-kdump-tools");
    put(
        &dir,
        "/etc/sysctl.d/90-nmi.conf",
        "kernel.unknown_nmi_panic = 1\n",
    );
    put(&dir, "/proc/sys/kernel/unknown_nmi_panic", "1\n");
    let conflict = "the NMI watchdog is on (kernel.nmi_watchdog = 1) with kernel.unknown_nmi_panic = 1 (/etc/sysctl.d/90-nmi.conf:1): kernel 6.1.0-56-amd64: on kernels after 2.6.18 the two run side by side, and an NMI that no handler claims panics the machine";
    for (role, name) in [
        (Role::Server, "a bare-metal server"),
        (Role::Hypervisor, "a hypervisor host"),
    ] {
        let (_, r) = doctor_at(&dir, Some(role));
        let c = check(&r, "panic.nmi_watchdog");
        assert_eq!(c.status, Status::Warn, "{role:?}: {}", c.message);
        assert_message(&r, "panic.nmi_watchdog", conflict);
        assert_message(
            &r,
            "panic.nmi_watchdog",
            "a profiler that also uses the PMU",
        );
        let fix = c.fix.as_deref().unwrap();
        assert!(
            fix.starts_with(&format!("kernel.unknown_nmi_panic = 0, kernel.panic_on_io_nmi = 1 in {CORONER_CONF}, then sysctl --system (recommended for {name}: keep the watchdog")),
            "{fix}"
        );
        assert!(
            fix.contains("panic_on_unrecovered_nmi is no replacement"),
            "{fix}"
        );
        assert!(c.auto_fix);
        // The per-setting check says the same.
        assert_eq!(
            check(&r, "panic.unknown_nmi_panic").fix.as_deref(),
            Some("kernel.unknown_nmi_panic = 0 in /etc/sysctl.d/99-coroner.conf, then sysctl --system")
        );

        // --fix: the watchdog stays, unknown-NMI panics go, I/O-check NMIs panic.
        let fixed = copy_of(&dir);
        let (_, after) = apply_fixes_as(&fixed, role);
        let conf = read(&fixed, CORONER_CONF);
        assert!(conf.contains("\nkernel.unknown_nmi_panic = 0\n"), "{conf}");
        assert!(conf.contains("\nkernel.panic_on_io_nmi = 1\n"), "{conf}");
        assert!(!conf.contains("nmi_watchdog"), "{conf}");
        assert_eq!(read(&fixed, "/proc/sys/kernel/unknown_nmi_panic"), "0\n");
        assert_eq!(read(&fixed, "/proc/sys/kernel/nmi_watchdog"), "1\n");
        for id in [
            "panic.nmi_watchdog",
            "panic.unknown_nmi_panic",
            "panic.panic_on_unrecovered_nmi",
            "panic.panic_on_io_nmi",
        ] {
            assert_eq!(check(&after, id).status, Status::Pass, "{role:?} {id}");
        }
        assert_message(&after, "panic.nmi_watchdog", "unknown NMIs do not panic");
    }

    // A guest gives up the watchdog instead: its NMI route is an unknown NMI.
    let (_, r) = doctor_at(&dir, Some(Role::Guest));
    let c = check(&r, "panic.nmi_watchdog");
    assert_eq!(c.status, Status::Warn);
    assert_message(&r, "panic.nmi_watchdog", conflict);
    assert!(
        c.fix.as_deref().unwrap().starts_with(&format!(
            "kernel.nmi_watchdog = 0 in {CORONER_CONF}, then sysctl --system (recommended for a guest: the watchdog gives way; keep unknown_nmi_panic = 1"
        )),
        "{:?}",
        c.fix
    );
    assert_eq!(check(&r, "panic.unknown_nmi_panic").status, Status::Pass);
    let fixed = copy_of(&dir);
    let (_, after) = apply_fixes_as(&fixed, Role::Guest);
    assert_eq!(read(&fixed, "/proc/sys/kernel/nmi_watchdog"), "0\n");
    assert_eq!(read(&fixed, "/proc/sys/kernel/unknown_nmi_panic"), "1\n");
    assert!(read(&fixed, CORONER_CONF).contains("\nkernel.nmi_watchdog = 0\n"));
    assert_eq!(check(&after, "panic.nmi_watchdog").status, Status::Pass);
    assert_eq!(
        check(&after, "panic.unknown_nmi_panic").status,
        Status::Pass
    );

    // panic_on_unrecovered_nmi alone is the same risk: it panics on unknown NMIs too.
    let dir = copy("debian12-kdump-tools");
    put(&dir, "/proc/sys/kernel/panic_on_unrecovered_nmi", "1\n");
    let (_, r) = doctor_at(&dir, None);
    assert_eq!(check(&r, "panic.nmi_watchdog").status, Status::Warn);
    assert_message(
        &r,
        "panic.nmi_watchdog",
        "the NMI watchdog is on (kernel.nmi_watchdog = 1) with kernel.panic_on_unrecovered_nmi = 1: kernel 6.1.0-56-amd64",
    );
    assert!(check(&r, "panic.nmi_watchdog")
        .fix
        .as_deref()
        .unwrap()
        .starts_with("kernel.panic_on_unrecovered_nmi = 0, kernel.panic_on_io_nmi = 1 in"));
}

#[test]
fn the_nmi_watchdog_from_the_command_line_or_the_kernel_default() {
    // A tree without /proc/sys: what the next boot does.
    let dir = copy("debian12-kdump-tools");
    fs::remove_dir_all(dir.join("proc/sys")).unwrap();
    put(
        &dir,
        "/etc/sysctl.d/90-nmi.conf",
        "kernel.unknown_nmi_panic = 1\n",
    );
    // On by default: the kernel is built with the hard-lockup detector.
    let (_, r) = doctor_at(&dir, None);
    assert_eq!(r.kernel.as_deref(), Some("6.1.0-56-amd64"));
    assert_eq!(check(&r, "panic.nmi_watchdog").status, Status::Warn);
    assert_message(&r, "panic.nmi_watchdog", "the NMI watchdog is on (on by default (CONFIG_HARDLOCKUP_DETECTOR=y in /boot/config-6.1.0-56-amd64)) with kernel.unknown_nmi_panic = 1 (/etc/sysctl.d/90-nmi.conf:1)");
    // nmi_watchdog=panic on the command line: on.
    let cmdline = read(&dir, "/proc/cmdline");
    put(
        &dir,
        "/proc/cmdline",
        &cmdline.replace("quiet", "quiet nmi_watchdog=panic"),
    );
    let (_, r) = doctor_at(&dir, None);
    assert_message(&r, "panic.nmi_watchdog", "the NMI watchdog is on (nmi_watchdog=panic on the kernel command line) with kernel.unknown_nmi_panic = 1");
    // nmi_watchdog=0: no conflict, but a bare-metal server loses hard-lockup
    // detection, and turning the watchdog back on takes the unknown-NMI panic off.
    put(
        &dir,
        "/proc/cmdline",
        &cmdline.replace("quiet", "quiet nmi_watchdog=0"),
    );
    let (_, r) = doctor_at(&dir, None);
    let c = check(&r, "panic.nmi_watchdog");
    assert_eq!(c.status, Status::Warn);
    assert_eq!(c.message, "the NMI watchdog is off (nmi_watchdog=0 on the kernel command line): hard lockups on this bare-metal machine go undetected");
    assert_eq!(
        c.fix.as_deref(),
        Some("kernel.nmi_watchdog = 1, kernel.unknown_nmi_panic = 0 in /etc/sysctl.d/99-coroner.conf, then sysctl --system")
    );
    let (_, after) = apply_fixes_as(&dir, Role::Server);
    assert_eq!(check(&after, "panic.nmi_watchdog").status, Status::Pass);
    assert_message(
        &after,
        "panic.nmi_watchdog",
        "the NMI watchdog is on (kernel.nmi_watchdog = 1 (/etc/sysctl.d/99-coroner.conf:",
    );
    // Judged as a guest, the watchdog coroner's file now turns on is the one to go.
    let (_, r) = doctor_at(&dir, Some(Role::Guest));
    assert_eq!(check(&r, "panic.nmi_watchdog").status, Status::Warn);
    assert!(check(&r, "panic.nmi_watchdog")
        .fix
        .as_deref()
        .unwrap()
        .starts_with("kernel.nmi_watchdog = 0 in"));
}

#[test]
fn unknown_nmi_panic_beside_the_nmi_watchdog_on_a_2_6_18_kernel() {
    // The RHEL 7 machine made a RHEL 5 one: kernel 2.6.18, which has no nmi_watchdog,
    // panic_on_unrecovered_nmi or panic_on_io_nmi sysctl; the I/O-APIC watchdog asked
    // for on the command line; unknown_nmi_panic = 1 in sysctl.conf.
    let dir = copy("rhel7-bare");
    put(&dir, "/proc/sys/kernel/osrelease", "2.6.18-419.el5\n");
    for f in [
        "nmi_watchdog",
        "panic_on_unrecovered_nmi",
        "panic_on_io_nmi",
    ] {
        fs::remove_file(dir.join("proc/sys/kernel").join(f)).unwrap();
    }
    let cmdline = "ro root=/dev/VolGroup00/LogVol00 rhgb quiet crashkernel=128M@16M";
    put(
        &dir,
        "/proc/cmdline",
        &format!("{cmdline} nmi_watchdog=1\n"),
    );
    put(&dir, "/etc/sysctl.conf", "kernel.unknown_nmi_panic = 1\n");
    put(&dir, "/proc/sys/kernel/unknown_nmi_panic", "1\n");
    let conflict = "the NMI watchdog is on (nmi_watchdog=1 on the kernel command line) with kernel.unknown_nmi_panic = 1 (/etc/sysctl.conf:1): kernel 2.6.18-419.el5: on 2.6.18 and earlier kernels the two exclude each other: setting unknown_nmi_panic makes the kernel take the local APIC's NMI for itself (reserve_lapic_nmi), which switches a local-APIC watchdog (nmi_watchdog=2) off without a word";
    for role in [Role::Guest, Role::Server, Role::Hypervisor] {
        let (_, r) = doctor_at(&dir, Some(role));
        assert_eq!(
            check(&r, "panic.nmi_watchdog").status,
            Status::Warn,
            "{role:?}"
        );
        assert_message(&r, "panic.nmi_watchdog", conflict);
        assert_message(&r, "panic.nmi_watchdog", "its first tick kills the machine");
        assert!(!check(&r, "panic.nmi_watchdog").message.contains("perf"));
    }

    // A guest: the watchdog goes, by the boot argument (no sysctl for it yet).
    let (ctx, r) = doctor_at(&dir, Some(Role::Guest));
    let c = check(&r, "panic.nmi_watchdog");
    assert_eq!(
        c.fix.as_deref(),
        Some("grubby --update-kernel=ALL --args=\"nmi_watchdog=0\" && reboot (recommended for a guest: the watchdog gives way; keep unknown_nmi_panic = 1 for the hypervisor's NMI, which arrives as an unknown NMI)")
    );
    assert!(!c.auto_fix);
    let plan = fix::plan(&ctx, &r).unwrap();
    assert!(
        plan.manual
            .iter()
            .any(|m| m.starts_with("panic.nmi_watchdog: grubby")),
        "{:?}",
        plan.manual
    );
    assert!(!read(&dir, "/etc/sysctl.conf").contains("nmi_watchdog"));

    // A server: unknown_nmi_panic goes; this kernel has no panic_on_io_nmi to set.
    let (_, r) = doctor_at(&dir, Some(Role::Server));
    let fix = check(&r, "panic.nmi_watchdog").fix.clone().unwrap();
    assert!(
        fix.starts_with(&format!("kernel.unknown_nmi_panic = 0 in {CORONER_CONF}, then sysctl --system (recommended for a bare-metal server: keep the watchdog")),
        "{fix}"
    );
    assert!(fix.contains("this kernel has no panic_on_io_nmi"), "{fix}");
    let (plan, after) = apply_fixes_as(&dir, Role::Server);
    assert_eq!(
        read(&dir, CORONER_CONF),
        "# Written by `coroner doctor --fix` (role: server): panic settings for kdump.\n\
         kernel.hardlockup_panic = 1\nkernel.panic = 10\nkernel.softlockup_panic = 1\n\
         kernel.sysrq = 24\nkernel.unknown_nmi_panic = 0\n"
    );
    // sysctl.conf is read after coroner's file: its line is changed too.
    assert_eq!(
        read(&dir, "/etc/sysctl.conf"),
        "kernel.unknown_nmi_panic = 0\n"
    );
    assert_eq!(read(&dir, "/proc/sys/kernel/unknown_nmi_panic"), "0\n");
    assert!(plan
        .changes
        .iter()
        .all(|c| !c.path.contains("nmi_watchdog")));
    assert_eq!(check(&after, "panic.nmi_watchdog").status, Status::Pass);
    assert_eq!(
        check(&after, "panic.unknown_nmi_panic").status,
        Status::Pass
    );

    // Without nmi_watchdog= on the command line 2.6.18 turns it on by itself.
    let dir = copy("rhel7-bare");
    put(&dir, "/proc/sys/kernel/osrelease", "2.6.18-419.el5\n");
    fs::remove_file(dir.join("proc/sys/kernel/nmi_watchdog")).unwrap();
    put(&dir, "/proc/cmdline", &format!("{cmdline}\n"));
    put(&dir, "/proc/sys/kernel/unknown_nmi_panic", "1\n");
    let (_, r) = doctor_at(&dir, Some(Role::Hypervisor));
    assert_message(
        &r,
        "panic.nmi_watchdog",
        "the NMI watchdog is on (on by default (2.6.18 on x86_64",
    );
    assert_message(
        &r,
        "panic.nmi_watchdog",
        "with kernel.unknown_nmi_panic = 1: kernel 2.6.18-419.el5: on 2.6.18 and earlier",
    );
}
