//! The kernel's circular doubly linked lists (`struct list_head`).

use crate::error::AnalysisError;
use coroner_kernel::Memory;

/// The structs on the circular list whose head is at `head` (the head itself not
/// included), each found `member_offset` bytes before its `list_head`. A list that
/// has not come back to its head after `max` entries is corrupt.
pub(crate) fn list_entries(
    memory: &dyn Memory,
    head: u64,
    member_offset: u64,
    max: usize,
) -> Result<Vec<u64>, AnalysisError> {
    let read = |at: u64| memory.read_u64(at).map_err(AnalysisError::from);
    let mut entries = Vec::new();
    let mut node = read(head)?;
    while node != head {
        if entries.len() == max {
            return Err(AnalysisError::Corrupt(format!(
                "list at {head:#x} does not come back to its head"
            )));
        }
        entries.push(node.wrapping_sub(member_offset));
        node = read(node)?;
    }
    Ok(entries)
}

/// [`list_entries`] for damaged memory: when a `next` pointer is unreadable, the
/// rest of the list is walked backwards from the head through `prev` pointers
/// (`list_head.prev` follows `next`), so one lost node costs only the entries
/// whose links are both lost. Returns the entries in list order and, if the list
/// was broken, why.
pub(crate) fn list_entries_lenient(
    memory: &dyn Memory,
    head: u64,
    member_offset: u64,
    max: usize,
) -> (Vec<u64>, Option<String>) {
    let read = |at: u64| memory.read_u64(at).map_err(|e| e.to_string());
    let mut entries = Vec::new();
    let mut node = match read(head) {
        Ok(node) => node,
        Err(e) => return backwards(memory, head, member_offset, max, Vec::new(), e),
    };
    while node != head {
        if entries.len() >= max {
            let why = format!("list at {head:#x} does not come back to its head");
            return (entries, Some(why));
        }
        entries.push(node.wrapping_sub(member_offset));
        node = match read(node) {
            Ok(next) => next,
            Err(e) => return backwards(memory, head, member_offset, max, entries, e),
        };
    }
    (entries, None)
}

/// The rest of a list broken going forward, from its head backwards.
fn backwards(
    memory: &dyn Memory,
    head: u64,
    member_offset: u64,
    max: usize,
    mut entries: Vec<u64>,
    error: String,
) -> (Vec<u64>, Option<String>) {
    let seen: std::collections::HashSet<u64> = entries.iter().copied().collect();
    let mut tail = Vec::new();
    let mut node = memory.read_u64(head.wrapping_add(8));
    while let Ok(at) = node {
        let entry = at.wrapping_sub(member_offset);
        if at == head || seen.contains(&entry) || entries.len() + tail.len() >= max {
            break;
        }
        tail.push(entry);
        node = memory.read_u64(at.wrapping_add(8));
    }
    let found_back = tail.len();
    tail.reverse();
    entries.append(&mut tail);
    let why = format!(
        "list at {head:#x} broken ({error}); {found_back} entries found walking back from its head"
    );
    (entries, Some(why))
}
