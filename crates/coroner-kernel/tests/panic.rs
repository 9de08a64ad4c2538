//! The panic found in each fixture's log agrees with the serial console (the
//! message) and with crash's `bt` header (the panicking PID, CPU and command).

use coroner_dump::Dump;
use coroner_kernel::{dmesg, Kernel};
use coroner_testdata::{all_variants, crash_dir, reference_dir, CRASHES};

/// `PID: 1  TASK: ffff...  CPU: 1  COMMAND: "init"` → (pid, cpu, comm).
fn crash_bt_header(crash: &str) -> (u32, u32, String) {
    let dir = reference_dir(crash, None);
    let text = std::fs::read_to_string(dir.join("crash-bt.txt")).unwrap();
    let w: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    (
        w[1].parse().unwrap(),
        w[5].parse().unwrap(),
        w[7].trim_matches('"').to_string(),
    )
}

#[test]
fn panic_message_task_and_cpu() {
    for crash in CRASHES {
        let console = std::fs::read_to_string(crash_dir(crash).join("console.log")).unwrap();
        let expected = console
            .lines()
            .filter_map(|l| l.split_once("Kernel panic - not syncing: "))
            .map(|(_, m)| m.trim_end())
            .next()
            .unwrap();
        let (pid, cpu, comm) = crash_bt_header(crash);
        for path in all_variants(crash) {
            let kernel = Kernel::new(Dump::open(&path).unwrap()).unwrap();
            let log = dmesg::read_log(&kernel, kernel.vmcoreinfo()).unwrap().log;
            let panic = dmesg::panic::find(&log).unwrap();
            assert_eq!(panic.message, expected, "{}", path.display());
            assert_eq!(panic.pid, Some(pid), "{}", path.display());
            assert_eq!(panic.cpu, Some(cpu), "{}", path.display());
            assert_eq!(
                panic.comm.as_deref(),
                Some(comm.as_str()),
                "{}",
                path.display()
            );
        }
    }
}
