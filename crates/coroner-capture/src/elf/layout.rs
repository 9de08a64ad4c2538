//! Which PT_LOADs an ELF vmcore gets: one per contiguous range of the input's RAM,
//! holding the pages the input stores. Pages it does not store (excluded by a dump
//! level, known to be zero, cut off) become zeros: inside a segment when the run is
//! short, past `p_filesz` (up to `p_memsz`, which readers give as zeros) when it
//! ends a range or is long enough to be worth a new segment, as `makedumpfile -E`
//! lays out filtered memory.

/// One PT_LOAD over physical `[paddr, paddr + memsz)`; its first `filesz` bytes are
/// in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub paddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

/// Most program headers an ELF header can count without the PN_XNUM extension,
/// which crash does not read; the note and the kernel text take two.
pub const MAX_RUNS: usize = 0xfffe - 2;
/// Pages without data that start a new segment rather than being written as zeros.
pub const SPLIT_PAGES: u64 = 256;

/// Plans the runs of `ram` (sorted, disjoint `[start, end)`): `has_data(pfn)` says
/// whether a page's bytes must be in the file; it is asked only inside `candidates`
/// (sorted, disjoint: the ranges the input stores, bounded by its size, so a
/// header claiming exabytes of RAM costs nothing). A run of at least `split` pages
/// without data between two with data ends a segment. Widens `split` until the
/// runs fit in an ELF header.
pub fn plan(
    ram: &[(u64, u64)],
    candidates: &[(u64, u64)],
    page_size: u64,
    has_data: impl Fn(u64) -> bool,
) -> Vec<Run> {
    let mut split = SPLIT_PAGES;
    loop {
        let runs = plan_with(ram, candidates, page_size, split * page_size, &has_data);
        if runs.len() <= MAX_RUNS || split > u64::MAX / 16 {
            return runs;
        }
        split *= 16;
    }
}

fn plan_with(
    ram: &[(u64, u64)],
    candidates: &[(u64, u64)],
    page_size: u64,
    gap: u64,
    has_data: &impl Fn(u64) -> bool,
) -> Vec<Run> {
    let mut runs = Vec::new();
    for &(start, end) in ram.iter().filter(|(s, e)| s < e) {
        // The run still open: its data ends at `paddr + filesz`.
        let mut open: Option<Run> = None;
        let pages = candidates
            .iter()
            .filter(|&&(s, e)| s < end && start < e)
            .flat_map(|&(s, e)| s.max(start) / page_size..e.min(end).div_ceil(page_size));
        for pfn in pages {
            if !has_data(pfn) {
                continue;
            }
            let a = (pfn * page_size).max(start);
            let b = ((pfn + 1) * page_size).min(end);
            open = Some(match open {
                Some(mut r) if a - (r.paddr + r.filesz) < gap => {
                    r.filesz = b - r.paddr;
                    r
                }
                Some(mut r) => {
                    r.memsz = a - r.paddr;
                    runs.push(r);
                    Run {
                        paddr: a,
                        filesz: b - a,
                        memsz: 0,
                    }
                }
                None if a - start < gap => Run {
                    paddr: start,
                    filesz: b - start,
                    memsz: 0,
                },
                None => {
                    runs.push(Run {
                        paddr: start,
                        filesz: 0,
                        memsz: a - start,
                    });
                    Run {
                        paddr: a,
                        filesz: b - a,
                        memsz: 0,
                    }
                }
            });
        }
        runs.push(match open {
            Some(r) => Run {
                memsz: end - r.paddr,
                ..r
            },
            None => Run {
                paddr: start,
                filesz: 0,
                memsz: end - start,
            },
        });
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u64 = 4096;

    fn run(paddr: u64, filesz: u64, memsz: u64) -> Run {
        Run {
            paddr,
            filesz,
            memsz,
        }
    }

    #[test]
    fn full_ranges_give_one_run_each() {
        let ram = [(0, 0x9f000), (0x100000, 0x2000_0000)];
        assert_eq!(
            plan(&ram, &ram, P, |_| true),
            vec![
                run(0, 0x9f000, 0x9f000),
                run(0x100000, 0x1ff0_0000, 0x1ff0_0000)
            ]
        );
    }

    #[test]
    fn short_gaps_are_zeros_long_ones_split_and_the_tail_is_memsz() {
        // Pages 0-9 data, 10-19 none (short), 20-29 data, 30-329 none (long),
        // 330-339 data, 340-399 none (the tail).
        let data = |pfn: u64| matches!(pfn, 0..=9 | 20..=29 | 330..=339);
        assert_eq!(
            plan(&[(0, 400 * P)], &[(0, 400 * P)], P, data),
            vec![run(0, 30 * P, 330 * P), run(330 * P, 10 * P, 70 * P)]
        );
    }

    #[test]
    fn a_long_leading_gap_and_a_range_without_data_are_memsz_only() {
        let data = |pfn: u64| (1000..1010).contains(&pfn);
        assert_eq!(
            plan(
                &[(0, 1010 * P), (2000 * P, 2010 * P)],
                &[(0, 5000 * P)],
                P,
                data
            ),
            vec![
                run(0, 0, 1000 * P),
                run(1000 * P, 10 * P, 10 * P),
                run(2000 * P, 0, 10 * P)
            ]
        );
    }

    #[test]
    fn ranges_not_on_page_boundaries_are_kept_exact() {
        assert_eq!(
            plan(&[(0x800, 0x2800)], &[(0, 0x3000)], P, |_| true),
            vec![run(0x800, 0x2000, 0x2000)]
        );
    }

    #[test]
    fn only_candidate_pages_are_asked_about() {
        // An exabyte of claimed RAM, two stored pages: planned without a page walk.
        let ram = [(0, 1 << 60)];
        let asked = std::cell::Cell::new(0);
        let runs = plan(&ram, &[(P, 3 * P)], P, |_| {
            asked.set(asked.get() + 1);
            true
        });
        assert_eq!(asked.get(), 2);
        assert_eq!(runs, vec![run(0, 3 * P, 1 << 60)]);
    }

    #[test]
    fn too_many_runs_widen_the_split() {
        // Every 300th page has data: with a 256-page split, one run per page.
        let pages = 300 * (MAX_RUNS as u64 + 10);
        let runs = plan(&[(0, pages * P)], &[(0, pages * P)], P, |pfn| {
            pfn % 300 == 0
        });
        assert!(runs.len() <= MAX_RUNS, "{}", runs.len());
        let covered: u64 = runs.iter().map(|r| r.memsz).sum();
        assert_eq!(covered, pages * P);
    }
}
