#!/bin/sh
# Records crash's `struct -o` / `union -o` / `struct -ox` output for the types listed
# below into this folder (see README.md), and for the structs of the loaded module
# qemu_fw_cfg (whose debug file is MODULE_KO) into qemu_fw_cfg/.
# Usage: record.sh VMLINUX DUMP MODULE_KO
set -eu
VMLINUX=$1
DUMP=$2
MODULE_KO=$3
HERE=$(cd "$(dirname "$0")" && pwd)
STRUCTS="list_head hlist_node task_struct mm_struct page folio module sk_buff bpf_prog
device slab IO_APIC_route_entry tcp_skb_cb file_operations kset_uevent_ops callback_head
inode file kobject timer_list zone rq kmem_cache super_block net_device pt_regs
thread_struct vm_area_struct sched_entity cred dentry address_space bio request_queue
irq_desc qstr xarray rb_node spinlock raw_spinlock mutex work_struct kernel_param
ftrace_ops kernfs_node sock sock_common tcp_sock perf_event tty_port
privflags_reply_data pinfunction ms_hyperv_tsc_page net_device_path audit_context
ptp_clock_request mii_bus file_lock"
UNIONS="bpf_attr __sifields"
HEX="list_head sk_buff task_struct"
MODULE_STRUCTS="fw_cfg_file fw_cfg_dma_access fw_cfg_vmcoreinfo fw_cfg_sysfs_entry
fw_cfg_sysfs_attribute"
mkdir -p "$HERE/qemu_fw_cfg"
CMDS=$(mktemp)
for t in $STRUCTS; do echo "struct -o $t > $HERE/$t.txt"; done > "$CMDS"
for t in $UNIONS; do echo "union -o $t > $HERE/union-$t.txt"; done >> "$CMDS"
for t in $HEX; do echo "struct -ox $t > $HERE/$t.hex.txt"; done >> "$CMDS"
echo "mod -s qemu_fw_cfg $MODULE_KO" >> "$CMDS"
for t in $MODULE_STRUCTS; do echo "struct -o $t > $HERE/qemu_fw_cfg/$t.txt"; done >> "$CMDS"
echo q >> "$CMDS"
crash -s "$VMLINUX" "$DUMP" < "$CMDS"
rm -f "$CMDS"
