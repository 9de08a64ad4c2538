//! `files`: a task's root and working directories and its open files (file,
//! dentry, inode, type, full path across mounts), as crash's `files` prints
//! them; `foreach files` gives every task's.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::{AnalysisError, Program, Task};
use coroner_types::Types;
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct OpenFile {
    pub fd: u32,
    pub file: Addr,
    pub dentry: Addr,
    pub inode: Addr,
    /// crash's 4-letter type: REG, DIR, CHR, BLK, LNK, FIFO, PIPE, SOCK, UNKN.
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskFiles {
    pub pid: u32,
    pub task: Addr,
    pub cpu: u32,
    pub command: String,
    /// `None` when the task has no `fs_struct` (crash prints no ROOT line).
    pub root: Option<String>,
    pub cwd: Option<String>,
    pub files: Vec<OpenFile>,
    #[serde(skip)]
    spacing: Spacing,
}

/// The blank lines crash puts around a task's block: before every task but the
/// first of `foreach files` or of several arguments, after each task named by
/// PID.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spacing {
    pub blank_before: bool,
    pub blank_after: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilesReport {
    pub tasks: Vec<TaskFiles>,
    pub warnings: Vec<Warning>,
}

impl Render for FilesReport {
    fn schema(&self) -> &'static str {
        "coroner.files/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for t in &self.tasks {
            if t.spacing.blank_before {
                writeln!(out)?;
            }
            writeln!(
                out,
                "PID: {:<8} TASK: {:<16x}  CPU: {:<4} COMMAND: \"{}\"",
                t.pid, t.task.0, t.cpu, t.command
            )?;
            if let (Some(root), Some(cwd)) = (&t.root, &t.cwd) {
                writeln!(out, "ROOT: {root}    CWD: {cwd}")?;
            }
            if t.files.is_empty() {
                writeln!(out, "No open files")?;
            } else {
                writeln!(
                    out,
                    " FD       FILE            DENTRY           INODE       TYPE PATH"
                )?;
            }
            for f in &t.files {
                writeln!(
                    out,
                    "{:>3} {:>16x} {:>16x} {:>16x} {:<4} {}",
                    f.fd, f.file.0, f.dentry.0, f.inode.0, f.kind, f.path
                )?;
            }
            if t.spacing.blank_after {
                writeln!(out)?;
            }
        }
        Ok(())
    }

    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        write_document(out, self.schema(), self)
    }

    fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

/// Most path components or descriptors followed before a structure is taken as
/// corrupt.
const MAX_WALK: usize = 1 << 12;
/// Most descriptors looked at in one table (the kernel's `sysctl_nr_open` cap).
const MAX_FDS: u64 = 1 << 20;

/// Offsets `files` (and `vm`, for paths) reads, found once.
pub(crate) struct Layout {
    task_fs: u64,
    task_files: u64,
    fs_root: u64,
    fs_pwd: u64,
    pub(crate) path_mnt: u64,
    pub(crate) path_dentry: u64,
    files_fdt: u64,
    fdt_max_fds: u64,
    fdt_fd: u64,
    fdt_open_fds: u64,
    file_path: u64,
    dentry_name_len: u64,
    dentry_name: u64,
    dentry_parent: u64,
    dentry_inode: u64,
    inode_mode: u64,
    inode_op: u64,
    inode_fop: u64,
    mount_mnt: u64,
    mount_parent: u64,
    mount_mountpoint: u64,
    mount_devname: u64,
}

impl Layout {
    pub(crate) fn new(types: &Types) -> Result<Layout, AnalysisError> {
        let off = |ty: &str, path: &str| {
            types
                .offset_of(ty, path)
                .ok_or_else(|| AnalysisError::Layout(format!("{ty}.{path}")))
        };
        Ok(Layout {
            task_fs: off("task_struct", "fs")?,
            task_files: off("task_struct", "files")?,
            fs_root: off("fs_struct", "root")?,
            fs_pwd: off("fs_struct", "pwd")?,
            path_mnt: off("path", "mnt")?,
            path_dentry: off("path", "dentry")?,
            files_fdt: off("files_struct", "fdt")?,
            fdt_max_fds: off("fdtable", "max_fds")?,
            fdt_fd: off("fdtable", "fd")?,
            fdt_open_fds: off("fdtable", "open_fds")?,
            file_path: off("file", "f_path")?,
            dentry_name_len: off("dentry", "d_name.len")?,
            dentry_name: off("dentry", "d_name.name")?,
            dentry_parent: off("dentry", "d_parent")?,
            dentry_inode: off("dentry", "d_inode")?,
            inode_mode: off("inode", "i_mode")?,
            inode_op: off("inode", "i_op")?,
            inode_fop: off("inode", "i_fop")?,
            mount_mnt: off("mount", "mnt")?,
            mount_parent: off("mount", "mnt_parent")?,
            mount_mountpoint: off("mount", "mnt_mountpoint")?,
            mount_devname: off("mount", "mnt_devname")?,
        })
    }
}

/// `tasks`: the tasks to show, in order, each with its blank lines.
pub fn files(program: &Program, tasks: &[(Task, Spacing)]) -> Result<FilesReport, AnalysisError> {
    let l = Layout::new(program.types()?)?;
    let mut blocks = Vec::new();
    for (t, spacing) in tasks {
        let mut block = task_files(program, &l, t)?;
        block.spacing = *spacing;
        blocks.push(block);
    }
    Ok(FilesReport {
        tasks: blocks,
        warnings: Warning::all(Stage::Program, program.warnings()),
    })
}

fn task_files(program: &Program, l: &Layout, t: &Task) -> Result<TaskFiles, AnalysisError> {
    let fs = program.read_u64(t.address.wrapping_add(l.task_fs))?;
    let (root, cwd) = if fs == 0 {
        (None, None)
    } else {
        let dir = |at: u64| -> Result<String, AnalysisError> {
            let dentry = program.read_u64(at.wrapping_add(l.path_dentry))?;
            let mnt = program.read_u64(at.wrapping_add(l.path_mnt))?;
            if dentry == 0 {
                return Ok(String::new());
            }
            pathname(program, l, dentry, mnt)
        };
        (
            Some(dir(fs.wrapping_add(l.fs_root))?),
            Some(dir(fs.wrapping_add(l.fs_pwd))?),
        )
    };
    let mut files = Vec::new();
    let table = program.read_u64(t.address.wrapping_add(l.task_files))?;
    let fdt = match table {
        0 => 0,
        _ => program.read_u64(table.wrapping_add(l.files_fdt))?,
    };
    if fdt != 0 {
        let max_fds = u64::from(program.read_u32(fdt.wrapping_add(l.fdt_max_fds))?).min(MAX_FDS);
        let fd_array = program.read_u64(fdt.wrapping_add(l.fdt_fd))?;
        let open_fds = program.read_u64(fdt.wrapping_add(l.fdt_open_fds))?;
        if fd_array != 0 && open_fds != 0 {
            for word in 0..max_fds.div_ceil(64) {
                let mut set = program.read_u64(open_fds.wrapping_add(word * 8))?;
                while set != 0 {
                    let bit = u64::from(set.trailing_zeros());
                    set &= set - 1;
                    let fd = word * 64 + bit;
                    if fd >= max_fds {
                        break;
                    }
                    let file = program.read_u64(fd_array.wrapping_add(fd * 8))?;
                    if file != 0 {
                        files.push(open_file(program, l, fd as u32, file)?);
                    }
                }
            }
        }
    }
    Ok(TaskFiles {
        pid: t.pid,
        task: Addr(t.address),
        cpu: t.cpu,
        command: t.comm.clone(),
        root,
        cwd,
        files,
        spacing: Spacing::default(),
    })
}

fn open_file(program: &Program, l: &Layout, fd: u32, file: u64) -> Result<OpenFile, AnalysisError> {
    let dentry = program.read_u64(file.wrapping_add(l.file_path).wrapping_add(l.path_dentry))?;
    let mnt = program.read_u64(file.wrapping_add(l.file_path).wrapping_add(l.path_mnt))?;
    let unknown = |dentry: u64| OpenFile {
        fd,
        file: Addr(file),
        dentry: Addr(dentry),
        inode: Addr(0),
        kind: "?".into(),
        path: "?".into(),
    };
    if dentry == 0 {
        return Ok(unknown(0));
    }
    let inode = program.read_u64(dentry.wrapping_add(l.dentry_inode))?;
    if inode == 0 {
        return Ok(unknown(dentry));
    }
    let mut path = pathname(program, l, dentry, mnt)?;
    // devpts mounted elsewhere than /dev: crash names its terminals /dev/pts/N.
    if path.starts_with("/pts/") && mnt != 0 {
        let devname =
            program.read_u64(mnt.wrapping_sub(l.mount_mnt).wrapping_add(l.mount_devname))?;
        if read_string(program, devname, 64)? == "devpts" {
            path.insert_str(0, "/dev");
        }
    }
    let kind = inode_type(program, l, inode, &mut path)?;
    Ok(OpenFile {
        fd,
        file: Addr(file),
        dentry: Addr(dentry),
        inode: Addr(inode),
        kind: kind.to_string(),
        path,
    })
}

/// crash's type of an inode from `i_mode`; pipes and sockets lose their path.
fn inode_type(
    program: &Program,
    l: &Layout,
    inode: u64,
    path: &mut String,
) -> Result<&'static str, AnalysisError> {
    let mut raw = [0u8; 2];
    program.read(inode.wrapping_add(l.inode_mode), &mut raw)?;
    let kind = match u16::from_le_bytes(raw) & 0o170000 {
        0o100000 => "REG",
        0o120000 => "LNK",
        0o040000 => "DIR",
        0o020000 => "CHR",
        0o060000 => "BLK",
        0o010000 => {
            // Older kernels tell pipes from FIFOs by their operations.
            let is = |member: u64, symbol: &str| -> Result<bool, AnalysisError> {
                Ok(match program.address_of(symbol) {
                    Some(at) => program.read_u64(inode.wrapping_add(member))? == at,
                    None => false,
                })
            };
            if is(l.inode_op, "pipe_inode_operations")? || is(l.inode_fop, "rdwr_pipe_fops")? {
                path.clear();
                "PIPE"
            } else {
                "FIFO"
            }
        }
        0o140000 => {
            if path == "/" {
                path.clear();
            }
            "SOCK"
        }
        _ => "UNKN",
    };
    Ok(kind)
}

/// The full path of `dentry` on the mount whose `vfsmount` is `mnt`, built the
/// way crash's `get_pathname` does: names up the `d_parent` chain, then on
/// through each mount's mountpoint until the mount that is its own parent.
pub(crate) fn pathname(
    program: &Program,
    l: &Layout,
    dentry: u64,
    mnt: u64,
) -> Result<String, AnalysisError> {
    let mut path = String::new();
    let mut current = dentry;
    let mut vfsmnt = mnt;
    for _ in 0..MAX_WALK {
        let len = program.read_u32(current.wrapping_add(l.dentry_name_len))?;
        let name_at = program.read_u64(current.wrapping_add(l.dentry_name))?;
        if len == 0 || name_at == 0 {
            break;
        }
        let name = read_string(program, name_at, len.min(4096) as usize)?;
        if current == dentry {
            path = name;
        } else if (len > 1 || name != "/") && !path.starts_with('/') {
            path = format!("{name}/{path}");
        } else {
            path = format!("{name}{path}");
        }
        let parent = program.read_u64(current.wrapping_add(l.dentry_parent))?;
        if parent == current && vfsmnt != 0 {
            // The root of a mount: carry on from where it is mounted.
            if path.starts_with("//") {
                path.remove(0);
            }
            let mount = vfsmnt.wrapping_sub(l.mount_mnt);
            let mount_parent = program.read_u64(mount.wrapping_add(l.mount_parent))?;
            current = program.read_u64(mount.wrapping_add(l.mount_mountpoint))?;
            if mount_parent == mount {
                break;
            }
            vfsmnt = mount_parent.wrapping_add(l.mount_mnt);
            continue;
        }
        if parent == current || parent == 0 {
            break;
        }
        current = parent;
    }
    if path != "/" && path.ends_with('/') {
        path.pop();
    }
    Ok(path)
}

/// At most `max` bytes of a NUL-terminated string.
fn read_string(program: &Program, at: u64, max: usize) -> Result<String, AnalysisError> {
    let mut raw = vec![0u8; max];
    program.read(at, &mut raw)?;
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    Ok(String::from_utf8_lossy(&raw[..end]).into_owned())
}
