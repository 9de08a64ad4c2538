//! What the host runs on (DMI, /sys/hypervisor, the CPU's hypervisor flag), the way
//! an NMI can reach it there, and the role that decides which panic settings suit it.

use crate::root::Root;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    BareMetal,
    Kvm,
    Vmware,
    Xen,
    HyperV,
    VirtualBox,
    Gce,
    /// EC2 on the Nitro hypervisor: takes diagnostic interrupts.
    Ec2Nitro,
    /// EC2 on the older Xen hypervisor: no diagnostic interrupts.
    Ec2Xen,
    UnknownVm,
}

#[derive(Debug, Clone, Serialize)]
pub struct Platform {
    pub kind: Kind,
    /// In words, with the DMI vendor and product.
    pub description: String,
    /// EC2 instance id (Nitro instances show it as the DMI board asset tag).
    pub instance_id: Option<String>,
    /// The command that sends this machine an NMI, when there is one.
    pub nmi_route: Option<String>,
    /// Where that command runs, or why there is no route.
    pub nmi_note: String,
}

/// The role decides what panic settings are recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A virtual machine.
    Guest,
    /// Bare metal running its own workload.
    Server,
    /// Bare metal running virtual machines: a panic takes every guest down.
    Hypervisor,
}

const DMI: &str = "/sys/class/dmi/id";

fn dmi(root: &Root, field: &str) -> String {
    root.read_value(&format!("{DMI}/{field}"))
        .ok()
        .flatten()
        .unwrap_or_default()
}

impl Platform {
    pub fn detect(root: &Root) -> Platform {
        let vendor = dmi(root, "sys_vendor");
        let product = dmi(root, "product_name");
        let bios_version = dmi(root, "bios_version");
        let asset = dmi(root, "board_asset_tag");
        let product_uuid = dmi(root, "product_uuid").to_ascii_lowercase();
        let hv_type = root
            .read_value("/sys/hypervisor/type")
            .ok()
            .flatten()
            .unwrap_or_default();
        let hv_uuid = root
            .read_value("/sys/hypervisor/uuid")
            .ok()
            .flatten()
            .unwrap_or_default();
        let xen_capabilities = root
            .read_value("/proc/xen/capabilities")
            .ok()
            .flatten()
            .unwrap_or_default();
        let cpu_hypervisor = root.read("/proc/cpuinfo").ok().flatten().is_some_and(|t| {
            t.lines()
                .any(|l| l.starts_with("flags") && l.split_whitespace().any(|w| w == "hypervisor"))
        });

        let kind = if vendor == "Amazon EC2" {
            Kind::Ec2Nitro
        } else if hv_uuid.to_ascii_lowercase().starts_with("ec2")
            || bios_version.contains("amazon")
            || (vendor == "Xen" && product_uuid.starts_with("ec2"))
        {
            Kind::Ec2Xen
        } else if vendor.contains("VMware") || product.starts_with("VMware") {
            Kind::Vmware
        } else if vendor == "Microsoft Corporation" && product == "Virtual Machine" {
            Kind::HyperV
        } else if xen_capabilities.contains("control_d") {
            // Xen's dom0 runs on the hardware and hosts the guests.
            Kind::BareMetal
        } else if vendor == "Xen" || hv_type == "xen" {
            Kind::Xen
        } else if vendor == "innotek GmbH" || product == "VirtualBox" {
            Kind::VirtualBox
        } else if vendor == "Google" {
            Kind::Gce
        } else if vendor == "QEMU"
            || product.contains("KVM")
            || [
                "Red Hat",
                "OpenStack Foundation",
                "oVirt",
                "DigitalOcean",
                "Hetzner",
                "Nutanix",
            ]
            .contains(&vendor.as_str())
        {
            Kind::Kvm
        } else if cpu_hypervisor {
            Kind::UnknownVm
        } else {
            Kind::BareMetal
        };
        let instance_id = (kind == Kind::Ec2Nitro && is_instance_id(&asset)).then(|| asset.clone());
        let machine = match (vendor.is_empty(), product.is_empty()) {
            (true, true) => "no DMI data".to_string(),
            (false, true) => vendor.clone(),
            (true, false) => product.clone(),
            (false, false) => format!("{vendor} {product}"),
        };
        let (what, route, note) = routes(kind, instance_id.as_deref());
        Platform {
            kind,
            description: format!("{what} ({machine})"),
            instance_id,
            nmi_route: route,
            nmi_note: note,
        }
    }

    pub fn is_virtual(&self) -> bool {
        self.kind != Kind::BareMetal
    }
}

/// `i-` and 8 or 17 hex digits.
pub fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|h| {
        matches!(h.len(), 8 | 17)
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// (kind in words, coroner's route, where it runs or why there is none).
fn routes(kind: Kind, instance_id: Option<&str>) -> (&'static str, Option<String>, String) {
    let none = |what, note: &str| (what, None, note.to_string());
    match kind {
        Kind::BareMetal => (
            "bare metal",
            Some("coroner nmi ipmi:BMC_ADDRESS".into()),
            "the BMC's `chassis power diag` over IPMI, or the front-panel NMI button; it panics the machine through panic_on_io_nmi where it arrives as an I/O check (unknown-NMI panics stay off beside the NMI watchdog: panic.nmi_watchdog)".into(),
        ),
        Kind::Kvm => (
            "KVM guest",
            Some("coroner nmi libvirt:DOMAIN".into()),
            "run on the KVM host (virsh inject-nmi); without libvirt, `coroner nmi qmp:SOCKET` on the VM's QMP socket".into(),
        ),
        Kind::Vmware => (
            "VMware guest",
            Some("coroner nmi esxi:/vmfs/volumes/DATASTORE/VM/VM.vmx".into()),
            "run in the ESXi host's shell (vm-support -a HungVM:Send_NMI_To_Guest)".into(),
        ),
        Kind::Ec2Nitro => (
            "EC2 instance on Nitro",
            Some(format!("coroner nmi aws:{}", instance_id.unwrap_or("INSTANCE_ID"))),
            "run anywhere with EC2 credentials (SendDiagnosticInterrupt)".into(),
        ),
        Kind::Ec2Xen => none(
            "EC2 instance on Xen",
            "EC2 sends diagnostic interrupts only to Nitro-based instances; this Xen-based type cannot receive an NMI",
        ),
        Kind::Xen => none("Xen guest", "from dom0, `xl trigger DOMAIN nmi` (coroner has no Xen route)"),
        Kind::HyperV => none(
            "Hyper-V guest",
            "on the Hyper-V host, `Debug-VM -Name VM -InjectNonMaskableInterrupt` (coroner has no Hyper-V route)",
        ),
        Kind::VirtualBox => none(
            "VirtualBox guest",
            "on the host, `VBoxManage debugvm VM injectnmi` (coroner has no VirtualBox route)",
        ),
        Kind::Gce => none(
            "Google Compute Engine instance",
            "`gcloud compute instances send-diagnostic-interrupt VM` (coroner has no GCE route)",
        ),
        Kind::UnknownVm => none("virtual machine of an unknown hypervisor", "no known way to send it an NMI"),
    }
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Server => "server",
            Role::Hypervisor => "hypervisor",
        }
    }

    pub fn detect(root: &Root, platform: &Platform) -> Role {
        let hosts_vms = root.exists("/sys/module/kvm_intel")
            || root.exists("/sys/module/kvm_amd")
            || root.exists("/etc/libvirt/qemu")
            || root
                .read_value("/proc/xen/capabilities")
                .ok()
                .flatten()
                .is_some_and(|c| c.contains("control_d"));
        if platform.is_virtual() {
            Role::Guest
        } else if hosts_vms {
            Role::Hypervisor
        } else {
            Role::Server
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (path, content) of the files of a tree.
    type Files<'a> = &'a [(&'a str, &'a str)];

    /// A tree with the given files.
    fn host(files: Files) -> Root {
        let dir = crate::testutil::temp_dir("platform");
        for (path, text) in files {
            let p = dir.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Root::new(dir).unwrap()
    }

    #[test]
    fn platforms_from_dmi_and_sys() {
        let vendor = "/sys/class/dmi/id/sys_vendor";
        let product = "/sys/class/dmi/id/product_name";
        let cases: [(Files, Kind, Option<&str>); 8] = [
            // A Xen-based EC2 instance (t2, m4): Xen DMI with Amazon's BIOS version.
            (
                &[
                    (vendor, "Xen\n"),
                    (product, "HVM domU\n"),
                    ("/sys/class/dmi/id/bios_version", "4.11.amazon\n"),
                ],
                Kind::Ec2Xen,
                None,
            ),
            (
                &[
                    (
                        "/sys/hypervisor/uuid",
                        "ec2e1916-9099-7caf-fd21-012345abcdef\n",
                    ),
                    ("/sys/hypervisor/type", "xen\n"),
                ],
                Kind::Ec2Xen,
                None,
            ),
            (
                &[
                    (vendor, "Xen\n"),
                    (product, "HVM domU\n"),
                    ("/sys/hypervisor/type", "xen\n"),
                ],
                Kind::Xen,
                None,
            ),
            (
                &[
                    (vendor, "Microsoft Corporation\n"),
                    (product, "Virtual Machine\n"),
                ],
                Kind::HyperV,
                None,
            ),
            (
                &[(vendor, "Google\n"), (product, "Google Compute Engine\n")],
                Kind::Gce,
                None,
            ),
            (
                &[(vendor, "innotek GmbH\n"), (product, "VirtualBox\n")],
                Kind::VirtualBox,
                None,
            ),
            (
                &[(vendor, "Red Hat\n"), (product, "KVM\n")],
                Kind::Kvm,
                Some("coroner nmi libvirt:DOMAIN"),
            ),
            (
                &[(
                    "/proc/cpuinfo",
                    "processor\t: 0\nflags\t\t: fpu vme hypervisor lm\n",
                )],
                Kind::UnknownVm,
                None,
            ),
        ];
        for (files, kind, route) in cases {
            let p = Platform::detect(&host(files));
            assert_eq!((p.kind, p.nmi_route.as_deref()), (kind, route), "{files:?}");
            assert_eq!(Role::detect(&host(files), &p), Role::Guest);
        }
        // Xen's dom0 is the hardware, and it hosts guests.
        let dom0 = host(&[
            ("/sys/hypervisor/type", "xen\n"),
            ("/proc/xen/capabilities", "control_d\n"),
        ]);
        let p = Platform::detect(&dom0);
        assert_eq!(p.kind, Kind::BareMetal);
        assert_eq!(Role::detect(&dom0, &p), Role::Hypervisor);
        let kvm_host = host(&[
            (vendor, "Supermicro\n"),
            ("/sys/module/kvm_intel/parameters/pml", "Y\n"),
        ]);
        assert_eq!(
            Role::detect(&kvm_host, &Platform::detect(&kvm_host)),
            Role::Hypervisor
        );
        // Nitro without an instance id in the asset tag still names the route.
        let p = Platform::detect(&host(&[(vendor, "Amazon EC2\n"), (product, "c5.metal\n")]));
        assert_eq!(p.nmi_route.as_deref(), Some("coroner nmi aws:INSTANCE_ID"));
        assert_eq!(p.description, "EC2 instance on Nitro (Amazon EC2 c5.metal)");
    }

    #[test]
    fn instance_ids() {
        assert!(is_instance_id("i-0123456789abcdef0"));
        assert!(is_instance_id("i-01234567"));
        assert!(!is_instance_id("i-0123456789ABCDEF0"));
        assert!(!is_instance_id("Amazon EC2"));
        assert!(!is_instance_id("i-123"));
    }
}
