//! What kind of crash a report is. The names are part of the JSON interface and of
//! knowledge-base rules (`class = ["soft-lockup"]`), so they never change.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    NullDeref,
    PagingRequest,
    GeneralProtection,
    StackSegment,
    Bug,
    InvalidOpcode,
    DivideError,
    Int3,
    DoubleFault,
    StackOverflow,
    StackProtector,
    SoftLockup,
    HardLockup,
    HungTask,
    RcuStall,
    UnknownNmi,
    PanicOnOom,
    OutOfMemory,
    MachineCheck,
    Warning,
    ListCorruption,
    SlabCorruption,
    BadPage,
    Kasan,
    Kfence,
    Ubsan,
    Kmsan,
    Kcsan,
    Lockdep,
    AtomicSleep,
    MemoryLeak,
    Sysrq,
    FatalExceptionInInterrupt,
    KillInit,
    CpuException,
    RustPanic,
    Panic,
    Hang,
    UseAfterFree,
    Harness,
    Reboot,
    Oops,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::NullDeref => "null-deref",
            Class::PagingRequest => "paging-request",
            Class::GeneralProtection => "general-protection",
            Class::StackSegment => "stack-segment",
            Class::Bug => "bug",
            Class::InvalidOpcode => "invalid-opcode",
            Class::DivideError => "divide-error",
            Class::Int3 => "int3",
            Class::DoubleFault => "double-fault",
            Class::StackOverflow => "stack-overflow",
            Class::StackProtector => "stack-protector",
            Class::SoftLockup => "soft-lockup",
            Class::HardLockup => "hard-lockup",
            Class::HungTask => "hung-task",
            Class::RcuStall => "rcu-stall",
            Class::UnknownNmi => "unknown-nmi",
            Class::PanicOnOom => "panic-on-oom",
            Class::OutOfMemory => "out-of-memory",
            Class::MachineCheck => "machine-check",
            Class::Warning => "warning",
            Class::ListCorruption => "list-corruption",
            Class::SlabCorruption => "slab-corruption",
            Class::BadPage => "bad-page",
            Class::Kasan => "kasan",
            Class::Kfence => "kfence",
            Class::Ubsan => "ubsan",
            Class::Kmsan => "kmsan",
            Class::Kcsan => "kcsan",
            Class::Lockdep => "lockdep",
            Class::AtomicSleep => "atomic-sleep",
            Class::MemoryLeak => "memory-leak",
            Class::Sysrq => "sysrq",
            Class::FatalExceptionInInterrupt => "fatal-exception-in-interrupt",
            Class::KillInit => "kill-init",
            Class::CpuException => "cpu-exception",
            Class::RustPanic => "rust-panic",
            Class::Panic => "panic",
            Class::Hang => "hang",
            Class::UseAfterFree => "use-after-free",
            Class::Harness => "harness",
            Class::Reboot => "reboot",
            Class::Oops => "oops",
        }
    }

    /// Every class, for validating knowledge-base rules.
    pub const ALL: [Class; 42] = [
        Class::NullDeref,
        Class::PagingRequest,
        Class::GeneralProtection,
        Class::StackSegment,
        Class::Bug,
        Class::InvalidOpcode,
        Class::DivideError,
        Class::Int3,
        Class::DoubleFault,
        Class::StackOverflow,
        Class::StackProtector,
        Class::SoftLockup,
        Class::HardLockup,
        Class::HungTask,
        Class::RcuStall,
        Class::UnknownNmi,
        Class::PanicOnOom,
        Class::OutOfMemory,
        Class::MachineCheck,
        Class::Warning,
        Class::ListCorruption,
        Class::SlabCorruption,
        Class::BadPage,
        Class::Kasan,
        Class::Kfence,
        Class::Ubsan,
        Class::Kmsan,
        Class::Kcsan,
        Class::Lockdep,
        Class::AtomicSleep,
        Class::MemoryLeak,
        Class::Sysrq,
        Class::FatalExceptionInInterrupt,
        Class::KillInit,
        Class::CpuException,
        Class::RustPanic,
        Class::Panic,
        Class::Hang,
        Class::UseAfterFree,
        Class::Harness,
        Class::Reboot,
        Class::Oops,
    ];

    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The class a `Kernel panic - not syncing: REASON` line implies on its own.
    pub fn of_panic_reason(reason: &str) -> Class {
        const BY_REASON: [(&str, Class); 17] = [
            ("sysrq triggered crash", Class::Sysrq),
            (
                "Fatal exception in interrupt",
                Class::FatalExceptionInInterrupt,
            ),
            ("Attempted to kill init", Class::KillInit),
            ("panic_on_oom", Class::PanicOnOom),
            ("Out of memory", Class::OutOfMemory),
            ("hung_task", Class::HungTask),
            ("softlockup", Class::SoftLockup),
            ("Hard LOCKUP", Class::HardLockup),
            ("hard LOCKUP", Class::HardLockup),
            ("NMI", Class::UnknownNmi),
            ("achine check", Class::MachineCheck),
            (
                "Not all CPUs entered broadcast exception",
                Class::MachineCheck,
            ),
            ("stack-protector", Class::StackProtector),
            ("stack overflow", Class::StackOverflow),
            ("corrupted stack end", Class::StackOverflow),
            ("panic_on_warn", Class::Warning),
            ("rcu_stall", Class::RcuStall),
        ];
        BY_REASON
            .iter()
            .find(|(needle, _)| reason.contains(needle))
            .map_or(Class::Panic, |&(_, class)| class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<_> = Class::ALL.iter().map(|c| c.name()).collect();
        for c in Class::ALL {
            assert_eq!(Class::from_name(c.name()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Class::ALL.len());
    }

    #[test]
    fn panic_reasons() {
        assert_eq!(
            Class::of_panic_reason("Out of memory: system-wide panic_on_oom is enabled"),
            Class::PanicOnOom
        );
        assert_eq!(
            Class::of_panic_reason("NMI: Not continuing"),
            Class::UnknownNmi
        );
        assert_eq!(
            Class::of_panic_reason("Fatal machine check"),
            Class::MachineCheck
        );
        assert_eq!(
            Class::of_panic_reason("VFS: Unable to mount root"),
            Class::Panic
        );
    }
}
