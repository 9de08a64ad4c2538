"""Reference stacks for coroner's `bt` tests: drgn 0.3.0 with the kernel's full
DWARF debuginfo (the -dbg vmlinux the fixture factory downloads) unwinds every
CPU's active task and every task in the dump.
Run as:  drgn -q -c VMCORE -s VMLINUX drgn-stacks.py > CRASH.txt
Output: a `=== cpu N` or `=== pid P task ADDR` line per stack, then one line per
frame, `PC SYMBOL` (inlined frames folded into the frame that holds them; SYMBOL
is `?` where drgn has none), and `end ERROR` if drgn stopped on an error."""
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import cpu_curr
from drgn.helpers.linux.cpumask import for_each_possible_cpu


def frames(task):
    try:
        trace = prog.stack_trace(task)
    except Exception as e:
        print(f"end {type(e).__name__}: {e}")
        return
    try:
        for frame in trace:
            if frame.is_inline:
                continue  # folded into the frame holding it, which follows
            try:
                name = frame.symbol().name
            except LookupError:
                name = "?"
            print(f"{frame.pc:016x} {name}")
    except Exception as e:
        print(f"end {type(e).__name__}: {e}")


for cpu in for_each_possible_cpu(prog):
    print(f"=== cpu {cpu}")
    frames(cpu_curr(prog, cpu))
for task in for_each_task(prog):
    print(f"=== pid {task.pid.value_()} task {task.value_():016x}")
    frames(task)
