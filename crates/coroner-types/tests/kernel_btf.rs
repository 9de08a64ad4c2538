//! The fixture kernel's own BTF (and a module's, split on it) against what the
//! kernel itself says about its layout: the OFFSET/SIZE/LENGTH lines its
//! VMCOREINFO carries, computed by the compiler that built it.

mod common;

use coroner_types::crash::{struct_offsets, Radix};
use coroner_types::{gdb, Namespace, Type, TypeId};

#[test]
fn vmcoreinfo_offsets_sizes_and_lengths_equal_btf() {
    let btf = common::vmlinux();
    let t = btf.types();
    let text =
        std::fs::read_to_string(common::data_dir().join("vmcoreinfo-6.1.0-56-amd64.txt")).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let (key, value) = line.split_once('=').unwrap();
        let value: u64 = value.parse().unwrap();
        let (what, arg) = key.trim_end_matches(')').split_once('(').unwrap();
        match what {
            "SIZE" => assert_eq!(t.size_of(t.find(arg).unwrap()), Some(value), "{line}"),
            "OFFSET" => {
                let (ty, member) = arg.split_once('.').unwrap();
                assert_eq!(t.offset_of(ty, member), Some(value), "{line}");
            }
            "LENGTH" => {
                let (ty, member) = arg.split_once('.').unwrap();
                let field = t.member(t.find(ty).unwrap(), member).unwrap();
                let Some(Type::Array(array)) = t.get(t.resolve(field.ty)) else {
                    panic!("{line}: not an array")
                };
                assert_eq!(array.count, Some(value), "{line}");
            }
            other => panic!("{other}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 67);
}

/// The numbering the kernel itself gave the module's BTF (its `struct btf` in
/// the dump: `start_id` 100751).
#[test]
fn split_module_btf_continues_the_kernels_numbering() {
    let vmlinux = common::vmlinux();
    assert_eq!(vmlinux.end_id(), 100_751);
    let module = common::module();
    assert_eq!(
        module.end_id(),
        100_751 + 37,
        "the kernel's nr_types for the module"
    );
    let t = module.types();
    let entry = t.find("fw_cfg_sysfs_entry").unwrap();
    assert!(
        entry.index() >= vmlinux.types().len() as u32,
        "a module type"
    );
    let kobj = t.member(entry, "kobj").unwrap();
    assert_eq!(
        kobj.ty,
        vmlinux.types().find("kobject").unwrap(),
        "refers to the kernel's kobject"
    );
    assert_eq!(t.find("task_struct"), vmlinux.types().find("task_struct"));
    assert_eq!(
        gdb::type_name(
            t,
            t.member(t.find("fw_cfg_sysfs_attribute").unwrap(), "show")
                .unwrap()
                .ty
        ),
        "ssize_t (*)(struct fw_cfg_sysfs_entry *, char *)"
    );
}

/// kvm's own structs (the issue's `struct kvm -ox`), from the module's split BTF,
/// against its DWARF as gdb reads it (tests/data/gdb-kvm-members.txt).
#[test]
fn kvm_module_members_equal_its_dwarf() {
    let kvm = common::kvm();
    let t = kvm.types();
    let reference =
        std::fs::read_to_string(common::data_dir().join("gdb-kvm-members.txt")).unwrap();
    let mut checked = 0;
    for line in reference.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (ty, member) = fields[0].split_once('.').unwrap();
        let bits: u64 = fields[1].parse().unwrap();
        let width: u32 = fields[2].parse().unwrap();
        let id = t.lookup(Namespace::Struct, ty).unwrap();
        let ours = match member {
            "SIZE" => t.size_of(id).map(|bytes| (bytes * 8, 0)),
            _ => t
                .member(id, member)
                .map(|f| (f.bit_offset, f.bit_size.unwrap_or(0))),
        };
        assert_eq!(ours, Some((bits, width)), "{line}");
        checked += 1;
    }
    assert_eq!(checked, 519);
    let text = struct_offsets(t, t.find("kvm").unwrap(), Radix::Hex).unwrap();
    assert!(
        text.contains("\n    [0x58] struct kvm_memslots __memslots[4];\n"),
        "{text}"
    );
}

#[test]
fn functions_and_percpu_variables_have_their_types() {
    let btf = common::vmlinux();
    let t = btf.types();
    let function = |name: &str| gdb::type_name(t, t.function(name).unwrap());
    assert_eq!(function("panic"), "void (const char *, ...)");
    assert_eq!(function("schedule"), "void (void)");
    assert_eq!(function("do_exit"), "void (long)");
    let variable = |name: &str| gdb::type_name(t, t.variable(name).unwrap());
    assert_eq!(variable("runqueues"), "struct rq");
    assert_eq!(variable("current_task"), "struct task_struct *");
    assert_eq!(t.pointer_size(), 8);
}

#[test]
fn alignment_follows_the_members() {
    let btf = common::vmlinux();
    let t = btf.types();
    let align = |name: &str| t.alignment(t.find(name).unwrap());
    assert_eq!(align("list_head"), Some(8));
    assert_eq!(align("atomic_t"), Some(4));
    assert_eq!(align("u8"), Some(1));
    assert_eq!(align("page"), Some(8));
    assert_eq!(
        align("setup_header"),
        Some(1),
        "__packed: root_flags sits at byte 1"
    );
}

/// Over every struct and union of the kernel: each named member is found by name
/// where it lies, and each renders within the printing budget.
#[test]
fn every_member_of_the_kernel_is_found_where_it_lies() {
    let btf = common::vmlinux();
    let t = btf.types();
    let (mut composites, mut members) = (0, 0);
    for id in t.ids() {
        let (Some(Type::Struct(c)) | Some(Type::Union(c))) = t.get(id) else {
            continue;
        };
        composites += 1;
        for m in &c.members {
            let Some(name) = m.name else { continue };
            let found = t.member_named(id, t.str(name)).unwrap();
            assert_eq!(
                found.bit_offset,
                m.bit_offset,
                "{:?}.{}",
                t.name_of(id),
                t.str(name)
            );
            members += 1;
        }
        if c.name.is_some() {
            let text = struct_offsets(t, id, Radix::Decimal).unwrap();
            assert!(!text.contains("<truncated>"), "{text}");
        }
    }
    assert_eq!(composites, 8721 + 1434);
    assert!(members > 50_000, "{members}");
    assert_eq!(t.get(TypeId::VOID), Some(&Type::Void));
}
