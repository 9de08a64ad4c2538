//! `nmi`: send a hung machine the NMI that makes it panic (and so dump), by the
//! route its platform has. QMP is spoken natively; the other routes run the
//! platform's own tool, with credentials taken from the environment or a file and
//! never put on a command line.

pub mod qmp;
mod tool;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use tool::ToolCommand;

/// How long a QMP exchange or an external tool may take.
pub const TIMEOUT: Duration = Duration::from_secs(120);
const QMP_TIMEOUT: Duration = Duration::from_secs(10);
pub const SYSRQ_TRIGGER: &str = "/proc/sysrq-trigger";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A QEMU QMP Unix socket.
    Qmp(PathBuf),
    /// A libvirt domain (name, id or UUID).
    Libvirt(String),
    /// A BMC host name or address.
    Ipmi(String),
    /// An EC2 instance id.
    Aws(String),
    /// A VM's .vmx path on an ESXi host.
    Esxi(String),
    /// This machine, through /proc/sysrq-trigger.
    Sysrq,
}

impl FromStr for Target {
    type Err = NmiError;

    fn from_str(s: &str) -> Result<Target, NmiError> {
        let bad = |why: &str| NmiError::BadTarget(format!("`{s}`: {why}"));
        if s == "sysrq" {
            return Ok(Target::Sysrq);
        }
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| bad("expected qmp:SOCKET, libvirt:DOMAIN, ipmi:HOST, aws:INSTANCE_ID, esxi:VMX_PATH or sysrq"))?;
        if rest.is_empty() {
            return Err(bad("nothing after the colon"));
        }
        // Values become tool arguments: one that looks like an option is refused.
        if rest.starts_with('-') {
            return Err(bad("a value may not start with '-'"));
        }
        match kind {
            "qmp" => Ok(Target::Qmp(PathBuf::from(rest))),
            "libvirt" => Ok(Target::Libvirt(rest.to_string())),
            "ipmi" => Ok(Target::Ipmi(rest.to_string())),
            "aws" if crate::platform::is_instance_id(rest) => Ok(Target::Aws(rest.to_string())),
            "aws" => Err(bad(
                "an EC2 instance id is i- and 8 or 17 lowercase hex digits",
            )),
            "esxi" if rest.ends_with(".vmx") => Ok(Target::Esxi(rest.to_string())),
            "esxi" => Err(bad(
                "expected the VM's .vmx path, /vmfs/volumes/DATASTORE/VM/VM.vmx",
            )),
            _ => Err(bad("unknown route (qmp, libvirt, ipmi, aws, esxi, sysrq)")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NmiError {
    #[error("bad target {0}")]
    BadTarget(String),
    #[error(transparent)]
    Qmp(#[from] qmp::QmpError),
    #[error("{tool} is not installed or not in PATH ({hint})")]
    ToolMissing {
        tool: &'static str,
        hint: &'static str,
    },
    #[error("missing credentials: {0}")]
    Credentials(String),
    #[error("`{command}` failed ({status}): {output}{hint}")]
    ToolFailed {
        command: String,
        status: String,
        output: String,
        hint: String,
    },
    #[error("`{command}` did not finish within {secs} s; killed")]
    ToolTimeout { command: String, secs: u64 },
    #[error("cannot run {tool}: {source}")]
    Spawn {
        tool: String,
        source: std::io::Error,
    },
    #[error("sysrq crashes this machine now, without asking again: add --yes to do it")]
    NeedsYes,
    #[error("cannot write {SYSRQ_TRIGGER}: {0}")]
    Sysrq(std::io::Error),
}

/// What `send` will do, decided (and credentials checked) before anything is sent.
#[derive(Debug, Clone)]
pub enum Route {
    Qmp { socket: PathBuf },
    Tool(ToolCommand),
    Sysrq,
}

/// Chooses the route for a target; `env` reads the environment (a parameter so
/// that tests need not change the process's own).
pub fn route(target: &Target, env: &dyn Fn(&str) -> Option<String>) -> Result<Route, NmiError> {
    Ok(match target {
        Target::Qmp(socket) => Route::Qmp {
            socket: socket.clone(),
        },
        Target::Sysrq => Route::Sysrq,
        Target::Libvirt(domain) => Route::Tool(tool::virsh(domain, env)),
        Target::Ipmi(host) => Route::Tool(tool::ipmitool(host, env)?),
        Target::Aws(id) => Route::Tool(tool::aws(id)),
        Target::Esxi(vmx) => Route::Tool(tool::vm_support(vmx)),
    })
}

impl fmt::Display for Route {
    /// Exactly what would be run or sent (for --dry-run).
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Route::Qmp { socket } => {
                writeln!(
                    f,
                    "connect to the QMP socket {}, read the greeting, then send:",
                    socket.display()
                )?;
                writeln!(f, "{}", qmp::Qmp::request("qmp_capabilities", 1))?;
                write!(f, "{}", qmp::Qmp::request("inject-nmi", 2))
            }
            Route::Tool(cmd) => write!(f, "run {cmd}"),
            Route::Sysrq => write!(f, "write c to {SYSRQ_TRIGGER} (crashes this machine)"),
        }
    }
}

/// Sends the NMI. Returns a line saying what was done.
pub fn send(route: &Route, yes: bool) -> Result<String, NmiError> {
    match route {
        Route::Qmp { socket } => {
            let version = qmp::inject_nmi(socket, QMP_TIMEOUT)?;
            Ok(format!(
                "NMI injected through QMP {} (QEMU {version})",
                socket.display()
            ))
        }
        Route::Tool(cmd) => cmd.run(TIMEOUT),
        Route::Sysrq if !yes => Err(NmiError::NeedsYes),
        Route::Sysrq => {
            std::fs::write(SYSRQ_TRIGGER, b"c").map_err(NmiError::Sysrq)?;
            Ok("sysrq-c written (this line should not be printed)".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            "qmp:/run/vm.sock".parse::<Target>().unwrap(),
            Target::Qmp("/run/vm.sock".into())
        );
        assert_eq!("sysrq".parse::<Target>().unwrap(), Target::Sysrq);
        assert_eq!(
            "aws:i-0123456789abcdef0".parse::<Target>().unwrap(),
            Target::Aws("i-0123456789abcdef0".into())
        );
        for (bad, why) in [
            ("aws:i-xyz", "instance id"),
            ("ipmi:-oProxyCommand=x", "may not start with '-'"),
            ("esxi:/vmfs/volumes/ds/vm/vm.vmdk", ".vmx"),
            ("libvirt:", "nothing after the colon"),
            ("ftp:host", "unknown route"),
            ("/tmp/qmp.sock", "expected qmp:SOCKET"),
        ] {
            let e = bad.parse::<Target>().unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn dry_run_text_is_what_would_be_sent() {
        let r = route(&Target::Qmp("/tmp/q.sock".into()), &|_| None).unwrap();
        assert_eq!(
            r.to_string(),
            "connect to the QMP socket /tmp/q.sock, read the greeting, then send:\n\
             {\"execute\":\"qmp_capabilities\",\"id\":1}\n{\"execute\":\"inject-nmi\",\"id\":2}"
        );
        let r = route(&Target::Sysrq, &|_| None).unwrap();
        assert!(matches!(send(&r, false), Err(NmiError::NeedsYes)));
    }
}
