//! Source lines for backtrace frames from the vmlinux's DWARF: each kernel frame
//! gets its file and line, and the calls inlined at its pc become frames of their
//! own before it, innermost first, as drgn lists them. A return address is looked
//! up one byte back, in the call (drgn's and gdb's rule; crash looks up the
//! return address itself, which names the line after the call).

use crate::backtrace::BtFrame;
use crate::schema::{Stage, Warning};
use coroner_program::Vmlinux;

pub(crate) fn with_source(
    vmlinux: &Vmlinux,
    frames: Vec<BtFrame>,
    exact: &[bool],
    warnings: &mut Vec<Warning>,
) -> Vec<BtFrame> {
    let mut out = Vec::with_capacity(frames.len());
    for (frame, &exact) in frames.into_iter().zip(exact) {
        if frame.module.is_some() {
            out.push(frame);
            continue;
        }
        let at = if exact {
            frame.pc.0
        } else {
            frame.pc.0.wrapping_sub(1)
        };
        let found = match vmlinux.frames(at) {
            Ok(found) => found,
            Err(e) => {
                warnings.push(Warning::new(
                    Stage::Debuginfo,
                    format!("source of {:#x}: {e}", frame.pc.0),
                ));
                Vec::new()
            }
        };
        let Some((own, inlined)) = found.split_last() else {
            out.push(frame);
            continue;
        };
        for call in inlined {
            out.push(BtFrame {
                function: call.function.clone(),
                inlined: true,
                file: call.file.clone(),
                line: call.line,
                column: call.column.filter(|&c| c > 0),
                registers: None,
                words: None,
                ..frame.clone()
            });
        }
        out.push(BtFrame {
            file: own.file.clone(),
            line: own.line,
            // Column 0 is DWARF's "unknown" (assembly).
            column: own.column.filter(|&c| c > 0),
            ..frame
        });
    }
    out
}
