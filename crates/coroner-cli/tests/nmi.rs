//! `coroner nmi` routes that run a platform's tool: the exact command (from
//! --dry-run and as the tool receives it), credentials through the environment or
//! a file and never on the command line, and clear errors for a missing tool,
//! missing credentials or a failing tool. The tools are stand-in scripts that
//! record what they were given. (QMP is tested against a real QEMU in nmi_qemu.rs.)

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("coroner-cli-nmi-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// A stand-in tool that writes its arguments (one a line) and IPMI_PASSWORD to
/// `<dir>/<tool>.log`, then prints `stdout` and exits with `code`, writing `stderr`.
fn tool(dir: &Path, name: &str, code: i32, stdout: &str, stderr: &str) {
    let path = dir.join(name);
    fs::write(
        &path,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > {log}\nprintf 'IPMI_PASSWORD=%s\\n' \"$IPMI_PASSWORD\" >> {log}\n\
             printf '%s' '{stdout}'\nprintf '%s' '{stderr}' >&2\nexit {code}\n",
            log = dir.join(format!("{name}.log")).display()
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn nmi(path: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coroner"));
    c.arg("nmi").args(args).env_clear().env("PATH", path);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn dry_run_prints_exactly_what_would_run() {
    let bin = temp("dry");
    let ipmi = [("IPMI_USER", "admin"), ("IPMI_PASSWORD", "s3cret")];
    for (args, env, expect) in [
        (
            vec!["qmp:/run/vm1/qmp.sock"],
            &[][..],
            "would connect to the QMP socket /run/vm1/qmp.sock, read the greeting, then send:\n\
             {\"execute\":\"qmp_capabilities\",\"id\":1}\n{\"execute\":\"inject-nmi\",\"id\":2}\n",
        ),
        (
            vec!["libvirt:web01"],
            &[][..],
            "would run virsh inject-nmi --domain web01   (libvirt's default connection (set LIBVIRT_DEFAULT_URI for another))\n",
        ),
        (
            vec!["ipmi:bmc1.example.com"],
            &ipmi[..],
            "would run ipmitool -I lanplus -H bmc1.example.com -U admin -E chassis power diag   (user admin from IPMI_USER, password from IPMI_PASSWORD in the environment)\n",
        ),
        (
            vec!["aws:i-0123456789abcdef0"],
            &[][..],
            "would run aws ec2 send-diagnostic-interrupt --instance-id i-0123456789abcdef0   (the AWS CLI's own credentials: AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment, ~/.aws, or an instance role; region from AWS_REGION)\n",
        ),
        (
            vec!["esxi:/vmfs/volumes/ds1/web 01/web 01.vmx"],
            &[][..],
            "would run vm-support -a HungVM:Send_NMI_To_Guest '--vm=/vmfs/volumes/ds1/web 01/web 01.vmx'   (none: it runs in the ESXi host's own shell)\n",
        ),
        (vec!["sysrq"], &[][..], "would write c to /proc/sysrq-trigger (crashes this machine)\n"),
    ] {
        let mut a = args.clone();
        a.push("--dry-run");
        let out = nmi(&bin, env, &a);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), expect, "{args:?}");
        assert!(!stdout(&out).contains("s3cret"));
    }
    assert_eq!(
        fs::read_dir(&bin).unwrap().count(),
        0,
        "a dry run runs nothing"
    );
}

#[test]
fn ipmi_password_reaches_ipmitool_through_the_environment_or_a_file_only() {
    let bin = temp("ipmi");
    tool(&bin, "ipmitool", 0, "Chassis Power Control: Diag", "");
    let out = nmi(
        &bin,
        &[("IPMI_USER", "admin"), ("IPMI_PASSWORD", "s3cret")],
        &["ipmi:10.0.0.5"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Chassis Power Control: Diag\n");
    let log = fs::read_to_string(bin.join("ipmitool.log")).unwrap();
    assert_eq!(
        log,
        "-I\nlanplus\n-H\n10.0.0.5\n-U\nadmin\n-E\nchassis\npower\ndiag\nIPMI_PASSWORD=s3cret\n"
    );

    let file = bin.join("bmc.pass");
    fs::write(&file, "s3cret\n").unwrap();
    let out = nmi(
        &bin,
        &[
            ("IPMI_USER", "admin"),
            ("CORONER_IPMI_PASSWORD_FILE", file.to_str().unwrap()),
        ],
        &["ipmi:10.0.0.5"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let log = fs::read_to_string(bin.join("ipmitool.log")).unwrap();
    assert_eq!(
        log,
        format!(
            "-I\nlanplus\n-H\n10.0.0.5\n-U\nadmin\n-f\n{}\nchassis\npower\ndiag\nIPMI_PASSWORD=\n",
            file.display()
        )
    );
    assert!(!log.lines().any(|l| l == "s3cret"));

    let out = nmi(&bin, &[("IPMI_USER", "admin")], &["ipmi:10.0.0.5"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "coroner: missing credentials: ipmi: put the BMC password in IPMI_PASSWORD, or in a file named by CORONER_IPMI_PASSWORD_FILE\n"
    );
}

#[test]
fn each_tool_gets_its_arguments() {
    let bin = temp("tools");
    for (target, tool_name, argv) in [
        ("libvirt:web01", "virsh", "inject-nmi\n--domain\nweb01\n"),
        (
            "aws:i-0123456789abcdef0",
            "aws",
            "ec2\nsend-diagnostic-interrupt\n--instance-id\ni-0123456789abcdef0\n",
        ),
        (
            "esxi:/vmfs/volumes/ds1/web01/web01.vmx",
            "vm-support",
            "-a\nHungVM:Send_NMI_To_Guest\n--vm=/vmfs/volumes/ds1/web01/web01.vmx\n",
        ),
    ] {
        tool(&bin, tool_name, 0, "", "");
        let out = nmi(&bin, &[], &[target]);
        assert!(out.status.success(), "{target}: {}", stderr(&out));
        let args: String = format!("{argv}IPMI_PASSWORD=\n");
        assert_eq!(
            fs::read_to_string(bin.join(format!("{tool_name}.log"))).unwrap(),
            args,
            "{target}"
        );
        assert_eq!(
            stdout(&out),
            format!(
                "`{tool_name} {}` succeeded\n",
                argv.trim_end().replace('\n', " ")
            )
        );
    }
}

#[test]
fn clear_errors() {
    let empty = temp("empty");
    let out = nmi(&empty, &[], &["libvirt:web01"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "coroner: virsh is not installed or not in PATH (libvirt-clients on Debian, libvirt-client on RHEL)\n");

    let bin = temp("failing");
    tool(&bin, "aws", 255, "", "\nUnable to locate credentials. You can configure credentials by running \"aws configure\".");
    let out = nmi(&bin, &[], &["aws:i-0123456789abcdef0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("coroner: `aws ec2 send-diagnostic-interrupt --instance-id i-0123456789abcdef0` failed (exit status: 255): Unable to locate credentials."), "{err}");
    assert!(
        err.contains("(the AWS CLI found no credentials: set AWS_PROFILE"),
        "{err}"
    );

    for (target, part) in [
        ("qmp:", "nothing after the colon"),
        ("aws:i-nothex", "an EC2 instance id is"),
        ("ipmi:-oProxyCommand=sh", "may not start with '-'"),
        ("telnet:host", "unknown route"),
    ] {
        let out = nmi(&empty, &[], &[target]);
        assert_eq!(out.status.code(), Some(2), "{target}");
        assert!(
            stderr(&out).starts_with(&format!("coroner: bad target `{target}`: ")),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(part), "{target}: {}", stderr(&out));
    }
    // sysrq would crash this machine: it refuses without --yes, before touching anything.
    let out = nmi(&empty, &[], &["sysrq"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "coroner: sysrq crashes this machine now, without asking again: add --yes to do it\n"
    );
}
