//! The kernel's circular doubly linked lists (`struct list_head`).

use coroner_kernel::KernelMemory;

/// The structs on the circular list whose head is at `head` (the head itself not
/// included), each found `member_offset` bytes before its `list_head`. A list that
/// has not come back to its head after `max` entries is corrupt.
pub(crate) fn list_entries(
    memory: &dyn KernelMemory,
    head: u64,
    member_offset: u64,
    max: usize,
) -> Result<Vec<u64>, String> {
    let read = |at: u64| memory.read_u64(at).map_err(|e| e.to_string());
    let mut entries = Vec::new();
    let mut node = read(head)?;
    while node != head {
        if entries.len() == max {
            return Err(format!("list at {head:#x} does not come back to its head"));
        }
        entries.push(node.wrapping_sub(member_offset));
        node = read(node)?;
    }
    Ok(entries)
}
