//! `net`: the network devices of the context task's network namespace
//! (`nsproxy->net_ns->dev_base_head`), each with its IPv4 addresses, as crash's
//! `net` lists them.

use crate::render::Render;
use crate::schema::{write_document, Addr, Stage, Warning};
use coroner_program::{AnalysisError, Program};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Debug, Clone, Serialize)]
pub struct NetDevice {
    pub net_device: Addr,
    pub name: String,
    /// Dotted IPv4 addresses, in the device's list order.
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NetReport {
    pub devices: Vec<NetDevice>,
    pub warnings: Vec<Warning>,
}

impl Render for NetReport {
    fn schema(&self) -> &'static str {
        "coroner.net/1"
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "   NET_DEVICE     NAME   IP ADDRESS(ES)")?;
        for d in &self.devices {
            writeln!(
                out,
                "{:>16x}  {:<6} {}",
                d.net_device.0,
                d.name,
                d.addresses.join(", ")
            )?;
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

/// Most devices or addresses followed before a list is taken as corrupt.
const MAX_WALK: usize = 1 << 16;

/// `task`: the task whose network namespace is listed (crash's context task).
pub fn net(program: &Program, task: u64) -> Result<NetReport, AnalysisError> {
    let types = program.types()?;
    let off = |ty: &str, path: &str| {
        types
            .offset_of(ty, path)
            .ok_or_else(|| AnalysisError::Layout(format!("{ty}.{path}")))
    };
    let nsproxy = program.read_u64(task + off("task_struct", "nsproxy")?)?;
    let net_ns = program.read_u64(nsproxy + off("nsproxy", "net_ns")?)?;
    let head = net_ns + off("net", "dev_base_head")?;
    let dev_list = off("net_device", "dev_list")?;
    let name = off("net_device", "name")?;
    let ip_ptr = off("net_device", "ip_ptr")?;
    let ifa_list = off("in_device", "ifa_list")?;
    let ifa_address = off("in_ifaddr", "ifa_address")?;
    let ifa_next = off("in_ifaddr", "ifa_next")?;
    let mut devices = Vec::new();
    let mut node = program.read_u64(head)?;
    while node != head && devices.len() < MAX_WALK {
        let device = node - dev_list;
        let mut raw = [0u8; 16];
        program.read(device + name, &mut raw)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let mut addresses = Vec::new();
        let in_device = program.read_u64(device + ip_ptr)?;
        if in_device != 0 {
            let mut ifa = program.read_u64(in_device + ifa_list)?;
            while ifa != 0 && addresses.len() < MAX_WALK {
                let mut ip = [0u8; 4];
                program.read(ifa + ifa_address, &mut ip)?;
                addresses.push(format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]));
                ifa = program.read_u64(ifa + ifa_next)?;
            }
        }
        devices.push(NetDevice {
            net_device: Addr(device),
            name: String::from_utf8_lossy(&raw[..end]).into_owned(),
            addresses,
        });
        node = program.read_u64(node)?;
    }
    Ok(NetReport {
        devices,
        warnings: Warning::all(Stage::Program, program.warnings()),
    })
}
