//! The checks, one module per area. Each returns `Check`s with the reason and the
//! exact fix, and the `Action`s `--fix` can carry out itself.

pub mod crashkernel;
pub mod kdump;
pub mod kernel_config;
pub mod panic;
pub mod platform;
pub mod target;
