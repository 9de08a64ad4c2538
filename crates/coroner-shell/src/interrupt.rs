//! Ctrl-C while a command runs: a flag the prompt loop and the output writer
//! watch, so the command stops and the session stays.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The error text of output stopped by Ctrl-C.
pub const INTERRUPTED: &str = "interrupted";

#[derive(Clone)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Installs the process's SIGINT handler (once; a second session shares it).
    pub fn install() -> Interrupt {
        static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
        let flag = FLAG.get_or_init(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let raised = Arc::clone(&flag);
            // Without a handler SIGINT would end the session; if one cannot be set
            // (another library holds it), Ctrl-C ends it as it would any program.
            let _ = ctrlc::set_handler(move || raised.store(true, Ordering::SeqCst));
            flag
        });
        Interrupt(Arc::clone(flag))
    }

    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    pub fn raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A writer that fails once Ctrl-C was pressed, so a long report stops printing.
/// (Not with `ErrorKind::Interrupted`, which `write_all` retries forever.)
pub struct Interruptible<'a, W: Write> {
    pub inner: W,
    pub interrupt: &'a Interrupt,
}

impl<W: Write> Write for Interruptible<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.interrupt.raised() {
            return Err(io::Error::other(INTERRUPTED));
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
