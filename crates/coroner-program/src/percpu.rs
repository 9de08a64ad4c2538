//! Per-CPU variables: a per-CPU symbol's address is an offset into each CPU's area,
//! whose base is `__per_cpu_offset[cpu]`.

use crate::Program;

impl Program {
    /// The address of per-CPU symbol `name` on `cpu`.
    pub fn per_cpu_address(&self, name: &str, cpu: u32) -> Option<u64> {
        let offset = self.address_of(name)?;
        let bases = self.address_of("__per_cpu_offset")?;
        let base = self.read_u64(bases + 8 * u64::from(cpu)).ok()?;
        Some(base.wrapping_add(offset))
    }

    /// The start of `cpu`'s per-CPU area (`__per_cpu_offset[cpu]`).
    pub fn per_cpu_base(&self, cpu: u32) -> Option<u64> {
        let bases = self.address_of("__per_cpu_offset")?;
        self.read_u64(bases + 8 * u64::from(cpu)).ok()
    }

    /// How many CPUs the kernel was built to handle at boot (`nr_cpu_ids`).
    pub fn cpu_count(&self) -> Option<u32> {
        let addr = self.address_of("nr_cpu_ids")?;
        let mut b = [0u8; 4];
        self.read(addr, &mut b).ok()?;
        Some(u32::from_le_bytes(b)).filter(|&n| n > 0 && n <= 8192)
    }
}

impl Program {
    /// Whether `address` (a symbol's value) lies in the per-CPU section, where
    /// symbols are offsets into each CPU's area.
    pub fn is_per_cpu(&self, address: u64) -> bool {
        let start = self.address_of("__per_cpu_start");
        let end = self.address_of("__per_cpu_end");
        start
            .zip(end)
            .is_some_and(|(s, e)| (s..e).contains(&address))
    }
}
