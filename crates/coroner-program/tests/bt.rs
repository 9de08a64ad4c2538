//! Backtraces from the dump alone (kallsyms and ORC in kernel memory, no vmlinux)
//! against drgn's, made with the kernel's full DWARF debuginfo: the fixtures'
//! own `drgn-vmlinux.txt` for the panic task on every container variant, and
//! `tests/bt-drgn/<crash>.txt` (drgn-stacks.py there) for every CPU and task.
//! Frames must have the same return addresses in the same order; inlined frames
//! fold into the function holding them; module code, which drgn cannot name
//! without the module's debuginfo, must be named from the module's own symbols.

use coroner_program::{End, Program, StackTrace};
use coroner_testdata::{all_variants, reference_dir, CRASHES};
use std::collections::BTreeMap;
use std::path::Path;

/// Lowest kernel address: drgn's frames below it are the user context.
const KERNEL_SPACE: u64 = 0xffff_8000_0000_0000;

/// One stack as drgn unwound it.
#[derive(Debug, Default)]
struct DrgnStack {
    /// (pc, symbol name); `?` where drgn has no symbol.
    frames: Vec<(u64, String)>,
}

/// The crashed thread from drgn-vmlinux.txt: tid, comm, cpu and frames.
fn drgn_crashed(crash: &str, dump: &Path) -> (u32, String, u32, DrgnStack) {
    let text =
        std::fs::read_to_string(reference_dir(crash, Some(dump)).join("drgn-vmlinux.txt")).unwrap();
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("=== crashed thread"))
        .skip(1)
        .take_while(|l| !l.starts_with("==="))
        .collect();
    let tid = section[0].strip_prefix("tid=").unwrap().parse().unwrap();
    let (comm, cpu) = section[1].split_once(" cpu=").unwrap();
    let mut stack = DrgnStack::default();
    for line in &section[2..] {
        if line.ends_with("(inlined)") {
            continue;
        }
        // `#3 at 0xffffffff99490926 (sysrq_handle_crash+0x16/0x16) in ...`
        let mut words = line.split_whitespace().skip(2);
        let pc = u64::from_str_radix(words.next().unwrap().trim_start_matches("0x"), 16).unwrap();
        let name = words
            .next()
            .and_then(|w| w.strip_prefix('('))
            .and_then(|w| w.split('+').next())
            .unwrap_or("?");
        stack.frames.push((pc, name.to_string()));
    }
    (
        tid,
        comm.trim_start_matches("comm=").to_string(),
        cpu.parse().unwrap(),
        stack,
    )
}

/// drgn-stacks.py's output: stacks by CPU, and by task address.
fn drgn_all(crash: &str) -> (BTreeMap<u32, DrgnStack>, BTreeMap<u64, DrgnStack>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/bt-drgn/{crash}.txt"));
    let text = std::fs::read_to_string(path).unwrap();
    let (mut cpus, mut tasks) = (BTreeMap::new(), BTreeMap::new());
    let mut current: Option<&mut DrgnStack> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["===", "cpu", cpu] => {
                current = Some(cpus.entry(cpu.parse().unwrap()).or_default());
            }
            ["===", "pid", _, "task", task] => {
                let task = u64::from_str_radix(task, 16).unwrap();
                current = Some(tasks.entry(task).or_default());
            }
            ["end", ..] => panic!("{crash}: drgn stopped: {line}"),
            [pc, name] => current
                .as_mut()
                .unwrap()
                .frames
                .push((u64::from_str_radix(pc, 16).unwrap(), name.to_string())),
            _ => panic!("{crash}: unexpected line {line:?}"),
        }
    }
    (cpus, tasks)
}

/// Our trace has drgn's frames: same pcs in order, names that agree, and the
/// same end (user mode at drgn's user pc, or the bottom of the stack).
fn assert_same(program: &Program, ours: &StackTrace, drgn: &DrgnStack, what: &str) {
    let kernel: Vec<&(u64, String)> = drgn.frames.iter().filter(|f| f.0 >= KERNEL_SPACE).collect();
    let user: Vec<u64> = drgn
        .frames
        .iter()
        .map(|f| f.0)
        .filter(|&pc| pc < KERNEL_SPACE)
        .collect();
    let our_pcs: Vec<u64> = ours.frames.iter().map(|f| f.pc).collect();
    let their_pcs: Vec<u64> = kernel.iter().map(|f| f.0).collect();
    assert_eq!(
        our_pcs.iter().map(|p| format!("{p:x}")).collect::<Vec<_>>(),
        their_pcs
            .iter()
            .map(|p| format!("{p:x}"))
            .collect::<Vec<_>>(),
        "{what}: pcs differ\nours: {ours:#?}"
    );
    for (frame, (pc, name)) in ours.frames.iter().zip(&kernel) {
        let function = frame.function.as_deref().unwrap_or("(none)");
        if name == "?" {
            assert!(
                frame.module.is_some(),
                "{what}: {pc:x} is {function}, drgn has no symbol"
            );
            continue;
        }
        // drgn may name a symbol that holds ours (entry_SYSCALL_64 holds the
        // label entry_SYSCALL_64_after_hwframe, where kallsyms stops).
        let ours_at = frame.pc - frame.offset;
        let holds = program
            .address_of(name)
            .is_some_and(|theirs| theirs <= ours_at && ours_at <= *pc);
        assert!(
            function == name || holds,
            "{what}: {pc:x} is {function}, drgn says {name}"
        );
    }
    match user[..] {
        [pc] => {
            assert_eq!(ours.end, End::UserMode, "{what}");
            let regs = ours
                .frames
                .last()
                .and_then(|f| f.regs)
                .expect("user registers");
            assert_eq!(regs.regs.ip(), pc, "{what}: user pc");
        }
        [] => assert_eq!(ours.end, End::EndOfStack, "{what}"),
        _ => panic!("{what}: drgn has several user frames"),
    }
}

#[test]
fn panic_task_matches_drgn_on_every_variant() {
    for crash in CRASHES {
        for path in all_variants(crash) {
            let what = format!("{crash} {}", path.display());
            let (tid, comm, cpu, drgn) = drgn_crashed(crash, &path);
            let program = Program::open(&path, None).unwrap();
            let unwinder = program.stack_unwinder();
            assert!(
                unwinder.warnings().is_empty(),
                "{what}: {:?}",
                unwinder.warnings()
            );
            assert_eq!(unwinder.panic_cpu(), Some(cpu), "{what}: panic CPU");
            let task = program.current_task(cpu).unwrap();
            let tasks = program.tasks().unwrap();
            let t = tasks.iter().find(|t| t.address == task).unwrap();
            assert_eq!((t.pid, t.comm.as_str()), (tid, comm.as_str()), "{what}");
            let trace = unwinder.cpu_trace(cpu).unwrap();
            assert_same(&program, &trace, &drgn, &what);
        }
    }
}

#[test]
fn every_cpu_matches_drgn() {
    for crash in CRASHES {
        let (drgn, _) = drgn_all(crash);
        for path in all_variants(crash) {
            let what = format!("{crash} {}", path.display());
            let program = Program::open(&path, None).unwrap();
            let unwinder = program.stack_unwinder();
            let cpus = unwinder.cpus();
            assert_eq!(
                cpus,
                (0..program.cpu_count().unwrap()).collect::<Vec<_>>(),
                "{what}"
            );
            assert_eq!(cpus, drgn.keys().copied().collect::<Vec<_>>(), "{what}");
            for cpu in cpus {
                let trace = unwinder.cpu_trace(cpu).unwrap();
                assert_same(&program, &trace, &drgn[&cpu], &format!("{what} CPU {cpu}"));
            }
        }
    }
}

#[test]
fn every_task_matches_drgn() {
    for crash in CRASHES {
        let (_, drgn) = drgn_all(crash);
        assert!(drgn.len() > 40, "{crash}: drgn has {} tasks", drgn.len());
        let path = &all_variants(crash)[0];
        let program = Program::open(path, None).unwrap();
        let unwinder = program.stack_unwinder();
        for (&task, stack) in &drgn {
            let trace = unwinder.task_trace(task).unwrap();
            assert_same(&program, &trace, stack, &format!("{crash} task {task:x}"));
        }
    }
}
