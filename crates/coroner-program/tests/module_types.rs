//! Types only modules define, from the split BTF each loaded module registered
//! with the kernel (`btf_modules`), found by name after vmlinux's.

use coroner_program::{AnalysisError, Program};
use coroner_testdata::crash_dir;

fn open(crash: &str, file: &str) -> Program {
    Program::open(&crash_dir(crash).join(file), None).unwrap()
}

/// The module `find_type` says defines `name`, and the type's size.
fn defined_by(program: &Program, name: &str) -> (Option<String>, Option<u64>) {
    let found = program.find_type(name).unwrap().unwrap();
    let size = found.types.size_of(found.id);
    (found.module.map(str::to_string), size)
}

#[test]
fn mod_null_types_come_from_vmlinux_then_qemu_fw_cfg() {
    let program = open("mod-null", "vmcore.mdf-d31-zlib");
    let some = |m: &str, size: u64| (Some(m.to_string()), Some(size));
    assert_eq!(defined_by(&program, "task_struct"), (None, Some(9792)));
    assert_eq!(
        defined_by(&program, "fw_cfg_vmcoreinfo"),
        some("qemu_fw_cfg", 16)
    );
    assert_eq!(
        defined_by(&program, "struct fw_cfg_sysfs_entry"),
        some("qemu_fw_cfg", 144)
    );
    // crashfixture.ko was built out of tree without BTF (btf_data_size 0): its
    // `struct fx_item` is only in its DWARF.
    assert!(program.find_type("fx_item").unwrap().is_none());
    let e = program
        .find_module_type("crashfixture", "fx_item")
        .err()
        .unwrap();
    assert_eq!(
        e,
        AnalysisError::NoTypes("module crashfixture has no BTF".into())
    );
    assert_eq!(
        program.find_module_type("nosuch", "list_head").err(),
        Some(AnalysisError::NotFound("no module nosuch is loaded".into()))
    );
    assert_eq!(program.module_type_warnings(), &[] as &[String]);
}

#[test]
fn kdump_sysrq_types_come_from_the_first_loaded_module_defining_them() {
    let program = open("kdump-sysrq", "vmcore.kdump-mdf-d31-zlib");
    assert_eq!(program.modules().len(), 11);
    for module in program.modules() {
        // Every module has BTF; a vmlinux type seen through it stays vmlinux's.
        let found = program.find_module_type(&module.name, "list_head");
        let found = found.unwrap().unwrap();
        assert_eq!(found.module, None, "{}", module.name);
    }
    let expected = [
        ("virtio_pci_modern_device", "virtio_pci_modern_dev"),
        ("virtio_pci_legacy_device", "virtio_pci_legacy_dev"),
        ("vring_virtqueue", "virtio_ring"),
        ("virtio_driver", "virtio"),
        ("virtio_pci_device", "virtio_pci"),
        // Also in 9pnet_virtio's BTF, which loaded after 9pnet.
        ("p9_trans_module", "9pnet"),
        ("p9_client", "9pnet"),
        ("netfs_io_request", "netfs"),
        // In netfs's BTF and fscache's; netfs loaded first.
        ("fscache_cookie", "netfs"),
        ("v9fs_session_info", "9p"),
        ("fw_cfg_file", "qemu_fw_cfg"),
    ];
    for (ty, module) in expected {
        assert_eq!(defined_by(&program, ty).0.as_deref(), Some(module), "{ty}");
    }
    let other = program.find_module_type("9pnet_virtio", "p9_trans_module");
    let other = other.unwrap().unwrap();
    assert_eq!(other.module, Some("9pnet_virtio"));
    assert_eq!(other.types.size_of(other.id), Some(104));
    assert!(program
        .find_module_type("virtio", "p9_trans_module")
        .unwrap()
        .is_none());
    assert_eq!(program.module_type_warnings(), &[] as &[String]);
}
