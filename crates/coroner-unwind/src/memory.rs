//! Kernel memory as the unwinder sees it: a read function, whatever holds the
//! bytes (a dump, a live kernel, recorded pages in a test).

/// Reads kernel virtual memory.
pub trait Memory {
    /// Fills `buf` from `addr`, or says why it cannot (never partial results).
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), String>;

    fn read_u64(&self, addr: u64) -> Result<u64, String> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_u32(&self, addr: u64) -> Result<u32, String> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
}

impl<F: Fn(u64, &mut [u8]) -> Result<(), String>> Memory for F {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), String> {
        self(addr, buf)
    }
}
