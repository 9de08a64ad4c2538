//! A store of kernel debuginfo keyed by build-id: `<root>/<build-id>/vmlinux`.
//! [`Store::add`] takes a vmlinux, a directory (an unpacked package or
//! `/usr/lib/debug`), a Debian `-dbg` `.deb` or Ubuntu `.ddeb` (an ar archive
//! holding `data.tar.{xz,zst,gz}`) or a `kernel-debuginfo` `.rpm` (a compressed
//! cpio payload), with no external tools; [`Store::find`] gives the vmlinux of a
//! build. Every file is checked to be an ELF with DWARF and a build-id before it
//! is filed, and written beside its final name then renamed, so the store never
//! holds half a file.

mod error;
mod package;
mod store;

pub use error::DebuginfoError;
pub use store::{Added, Store};
