//! How a long conversion tells its caller how far it is: the library counts bytes,
//! the front end draws (a bar on a terminal, nothing otherwise).

/// Told the total once, then every step; called from the writing thread only.
pub trait Progress {
    /// The conversion will write about `bytes` bytes of memory.
    fn start(&self, bytes: u64);
    /// `bytes` more were written.
    fn advance(&self, bytes: u64);
    fn finish(&self);
}

/// For callers that show nothing (tests, libraries, a pipe).
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}
