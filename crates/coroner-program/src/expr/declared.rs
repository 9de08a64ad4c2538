//! Declared types of kernel variables people print, for kernels whose only type
//! source is BTF: kernel BTF describes per-CPU variables but no other global
//! (pahole does not emit them by default), so `p jiffies` would otherwise be
//! gdb's "unknown type". Each entry is the variable's declaration in the kernel
//! source, stable across the kernels coroner reads; a use is named in a
//! warning. A DWARF vmlinux, which types every variable, makes the table moot.

/// (variable, its declared type), sorted by name.
const DECLARED: &[(&str, &str)] = &[
    ("_totalram_pages", "atomic_long_t"),
    ("blockdev_superblock", "struct super_block *"),
    ("crashing_cpu", "int"),
    ("hugetlb_max_hstate", "int"),
    ("init_files", "struct files_struct"),
    ("init_fs", "struct fs_struct"),
    ("init_mm", "struct mm_struct"),
    ("init_net", "struct net"),
    ("init_nsproxy", "struct nsproxy"),
    ("init_pid_ns", "struct pid_namespace"),
    ("init_task", "struct task_struct"),
    ("init_uts_ns", "struct uts_namespace"),
    ("jiffies", "unsigned long"),
    ("jiffies_64", "u64"),
    ("max_pfn", "unsigned long"),
    ("modules", "struct list_head"),
    ("nr_cpu_ids", "unsigned int"),
    ("nr_node_ids", "unsigned int"),
    ("nr_swapfiles", "unsigned int"),
    ("oops_in_progress", "int"),
    ("page_offset_base", "unsigned long"),
    ("panic_cpu", "atomic_t"),
    ("panic_on_oops", "int"),
    ("panic_timeout", "int"),
    ("phys_base", "unsigned long"),
    ("root_task_group", "struct task_group"),
    ("saved_command_line", "char *"),
    ("slab_caches", "struct list_head"),
    ("super_blocks", "struct list_head"),
    ("sysctl_overcommit_kbytes", "unsigned long"),
    ("sysctl_overcommit_ratio", "int"),
    ("tainted_mask", "unsigned long"),
    ("vm_committed_as", "struct percpu_counter"),
    ("vmalloc_base", "unsigned long"),
    ("vmemmap_base", "unsigned long"),
];

/// The declared type of `name`, if the table has it.
pub(crate) fn declared_type(name: &str) -> Option<&'static str> {
    DECLARED
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| DECLARED[i].1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorted_and_parseable() {
        assert!(super::DECLARED.windows(2).all(|w| w[0].0 < w[1].0));
        for (_, ty) in super::DECLARED {
            crate::expr::parse_type(ty).unwrap();
        }
        assert_eq!(super::declared_type("jiffies"), Some("unsigned long"));
    }
}
