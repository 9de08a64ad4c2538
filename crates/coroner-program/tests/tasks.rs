//! Tasks read through BTF agree with drgn's task list (made with full DWARF
//! debuginfo) on every fixture, and with crash's `ps` on the tasks crash lists.

use coroner_program::Program;
use coroner_testdata::{all_variants, reference_dir, CRASHES};

fn reference(crash: &str, file: &str) -> String {
    std::fs::read_to_string(reference_dir(crash, None).join(file)).unwrap()
}

#[test]
fn every_task_drgn_lists_with_its_parent_cpu_state_and_comm() {
    for crash in CRASHES {
        let text = reference(crash, "drgn-vmlinux.txt");
        let drgn: Vec<String> = text
            .lines()
            .skip_while(|l| !l.starts_with("=== task list"))
            .skip(2)
            .take_while(|l| !l.starts_with("==="))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert!(drgn.len() > 40, "{crash}: drgn lists {} tasks", drgn.len());
        for path in all_variants(crash) {
            let program = Program::open(&path, None).unwrap();
            let mut ours: Vec<String> = program
                .tasks()
                .unwrap()
                .iter()
                .filter(|t| t.pid > 0)
                .map(|t| format!("{} {} {} {} {}", t.pid, t.ppid, t.cpu, t.state, t.comm))
                .collect();
            let mut expected = drgn.clone();
            ours.sort();
            expected.sort();
            assert_eq!(ours, expected, "{}", path.display());
        }
    }
}

#[test]
fn idle_and_active_tasks_as_crash_shows_them() {
    for crash in CRASHES {
        // crash 8.0.2 lists only the idle tasks and the crashed task on this
        // kernel; each line it has must be ours too.
        let text = reference(crash, "crash-ps.txt");
        let path = &all_variants(crash)[0];
        let program = Program::open(path, None).unwrap();
        let tasks = program.tasks().unwrap();
        for line in text.lines().skip(1) {
            let active = line.starts_with('>');
            let f: Vec<&str> = line[1..].split_whitespace().collect();
            let task = u64::from_str_radix(f[3], 16).unwrap();
            let ours = tasks
                .iter()
                .find(|t| t.address == task)
                .unwrap_or_else(|| panic!("{crash}: {line}"));
            assert_eq!(ours.pid.to_string(), f[0], "{crash}: {line}");
            assert_eq!(ours.ppid.to_string(), f[1], "{crash}: {line}");
            assert_eq!(ours.cpu.to_string(), f[2], "{crash}: {line}");
            assert_eq!(ours.active, active, "{crash}: {line}");
            let comm = f[8].trim_start_matches('[').trim_end_matches(']');
            assert_eq!(ours.comm, comm, "{crash}: {line}");
        }
    }
}
