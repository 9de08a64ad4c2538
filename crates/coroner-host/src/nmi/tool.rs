//! The NMI routes that go through a platform's own tool: virsh, ipmitool, the AWS
//! CLI, ESXi's vm-support. Secrets stay where the tool reads them itself (the
//! environment or a file); the command line carries none.

use super::NmiError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The IPMI password file, when the password is not in IPMI_PASSWORD.
pub const IPMI_PASSWORD_FILE_VAR: &str = "CORONER_IPMI_PASSWORD_FILE";

#[derive(Debug, Clone)]
pub struct ToolCommand {
    pub program: &'static str,
    pub args: Vec<String>,
    /// Where the tool gets its credentials or connection, in words.
    pub credentials: String,
    /// How to get the tool when it is missing.
    pub install: &'static str,
}

pub fn virsh(domain: &str, env: &dyn Fn(&str) -> Option<String>) -> ToolCommand {
    let uri = match env("LIBVIRT_DEFAULT_URI") {
        Some(uri) => format!("libvirt connection {uri} from LIBVIRT_DEFAULT_URI"),
        None => "libvirt's default connection (set LIBVIRT_DEFAULT_URI for another)".into(),
    };
    ToolCommand {
        program: "virsh",
        args: vec!["inject-nmi".into(), "--domain".into(), domain.into()],
        credentials: uri,
        install: "libvirt-clients on Debian, libvirt-client on RHEL",
    }
}

/// `ipmitool -I lanplus -H HOST -U USER -E|-f FILE chassis power diag`: the user
/// from IPMI_USER, the password from IPMI_PASSWORD (`-E`) or from the file named by
/// CORONER_IPMI_PASSWORD_FILE (`-f`).
pub fn ipmitool(host: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ToolCommand, NmiError> {
    let user = env("IPMI_USER")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| NmiError::Credentials("ipmi: set IPMI_USER to the BMC user name".into()))?;
    let (password_args, credentials) = if env("IPMI_PASSWORD").is_some_and(|p| !p.is_empty()) {
        (
            vec!["-E".to_string()],
            "password from IPMI_PASSWORD in the environment".to_string(),
        )
    } else if let Some(file) = env(IPMI_PASSWORD_FILE_VAR).filter(|f| !f.is_empty()) {
        if !Path::new(&file).is_file() {
            return Err(NmiError::Credentials(format!(
                "ipmi: {IPMI_PASSWORD_FILE_VAR} names {file}, which is not a file"
            )));
        }
        (
            vec!["-f".to_string(), file.clone()],
            format!("password from the file {file}"),
        )
    } else {
        return Err(NmiError::Credentials(format!(
            "ipmi: put the BMC password in IPMI_PASSWORD, or in a file named by {IPMI_PASSWORD_FILE_VAR}"
        )));
    };
    let mut args: Vec<String> = ["-I", "lanplus", "-H", host, "-U", &user]
        .map(String::from)
        .to_vec();
    args.extend(password_args);
    args.extend(["chassis", "power", "diag"].map(String::from));
    Ok(ToolCommand {
        program: "ipmitool",
        args,
        credentials: format!("user {user} from IPMI_USER, {credentials}"),
        install: "the ipmitool package",
    })
}

pub fn aws(instance: &str) -> ToolCommand {
    ToolCommand {
        program: "aws",
        args: ["ec2", "send-diagnostic-interrupt", "--instance-id", instance].map(String::from).to_vec(),
        credentials: "the AWS CLI's own credentials: AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment, ~/.aws, or an instance role; region from AWS_REGION".into(),
        install: "the AWS CLI (awscli)",
    }
}

pub fn vm_support(vmx: &str) -> ToolCommand {
    ToolCommand {
        program: "vm-support",
        args: vec![
            "-a".into(),
            "HungVM:Send_NMI_To_Guest".into(),
            format!("--vm={vmx}"),
        ],
        credentials: "none: it runs in the ESXi host's own shell".into(),
        install: "run this in the ESXi host's shell, where vm-support is",
    }
}

impl fmt::Display for ToolCommand {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let words: Vec<String> = std::iter::once(self.program.to_string())
            .chain(self.args.iter().map(|a| shell_quote(a)))
            .collect();
        write!(f, "{}   ({})", words.join(" "), self.credentials)
    }
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The program's path from PATH.
fn find(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

impl ToolCommand {
    /// Runs the tool (stdin closed), killed if it overruns `timeout`. Its output
    /// is returned on success and is the error otherwise.
    pub fn run(&self, timeout: Duration) -> Result<String, NmiError> {
        let exe = find(self.program).ok_or(NmiError::ToolMissing {
            tool: self.program,
            hint: self.install,
        })?;
        let command = format!("{} {}", self.program, self.args.join(" "));
        let mut child = Command::new(&exe)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| NmiError::Spawn {
                tool: exe.display().to_string(),
                source,
            })?;
        // Drained by threads, so a chatty tool cannot block on a full pipe.
        let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out_thread = drain(child.stdout.take().map(|r| Box::new(r) as _));
        let err_thread = drain(child.stderr.take().map(|r| Box::new(r) as _));
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if start.elapsed() > timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(NmiError::ToolTimeout {
                        command,
                        secs: timeout.as_secs(),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(source) => {
                    return Err(NmiError::Spawn {
                        tool: exe.display().to_string(),
                        source,
                    })
                }
            }
        };
        let out = (
            out_thread.join().unwrap_or_default(),
            err_thread.join().unwrap_or_default(),
        );
        let stdout = String::from_utf8_lossy(&out.0).trim().to_string();
        let stderr = String::from_utf8_lossy(&out.1).trim().to_string();
        if status.success() {
            return Ok(if stdout.is_empty() {
                format!("`{command}` succeeded")
            } else {
                stdout
            });
        }
        let hint = if stderr.contains("Unable to locate credentials") {
            "\n(the AWS CLI found no credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, in the environment)"
        } else {
            ""
        };
        let output = [stderr, stdout]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        Err(NmiError::ToolFailed {
            command,
            status: status.to_string(),
            output,
            hint: hint.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipmi_credentials_never_on_the_command_line() {
        let env = |k: &str| match k {
            "IPMI_USER" => Some("admin".to_string()),
            "IPMI_PASSWORD" => Some("s3cret".to_string()),
            _ => None,
        };
        let c = ipmitool("bmc1.example", &env).unwrap();
        assert_eq!(
            c.args.join(" "),
            "-I lanplus -H bmc1.example -U admin -E chassis power diag"
        );
        assert!(!c.to_string().contains("s3cret"));
        let e = ipmitool("bmc1", &|k| (k == "IPMI_USER").then(|| "admin".to_string())).unwrap_err();
        assert!(e.to_string().contains("IPMI_PASSWORD"), "{e}");
        let e = ipmitool("bmc1", &|_| None).unwrap_err();
        assert!(e.to_string().contains("IPMI_USER"), "{e}");
        let e = ipmitool("bmc1", &|k| match k {
            "IPMI_USER" => Some("admin".into()),
            IPMI_PASSWORD_FILE_VAR => Some("/no/such/file".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(e.to_string().contains("not a file"), "{e}");
    }

    #[test]
    fn quoting_for_display() {
        assert_eq!(
            shell_quote("--vm=/vmfs/volumes/ds1/web 01/web.vmx"),
            "'--vm=/vmfs/volumes/ds1/web 01/web.vmx'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("i-0123"), "i-0123");
    }
}
