//! The kdump-compressed writer (makedumpfile's default output, header version 6).
//!
//! Page data may sit anywhere after the descriptor table, so the pages analysis
//! needs (page tables, the kernel image and modules, the log) are written first,
//! then the rest in frame order. The header says "incomplete" until the last byte
//! is written; descriptors are written after the data they point to, and the file
//! is extended past the descriptor table first, so a dump cut at any point reads
//! as that many pages and nothing wrong.

pub mod header;
mod priority;
mod writer;

pub use priority::important_frames;
pub use writer::{write, Outcome, WriteOptions};
