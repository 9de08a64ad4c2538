//! Address translation on the real fixtures: kernel data read through the page
//! tables must say what VMCOREINFO says, in every container variant of a crash.

use coroner_dump::Dump;
use coroner_kernel::{Kernel, Memory};
use coroner_testdata::{all_variants, CRASHES};

/// `struct new_utsname` fields are `char[65]`: sysname, nodename, release, ...
const UTS_FIELD: u64 = 65;

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[test]
fn init_uts_ns_through_page_tables_gives_the_release() {
    let mut checked = 0;
    for crash in CRASHES {
        for path in all_variants(crash) {
            let kernel = Kernel::new(Dump::open(&path).unwrap()).unwrap();
            let info = kernel.vmcoreinfo();
            assert!(
                kernel.translation().contains("page tables"),
                "{}",
                path.display()
            );
            let uts =
                info.symbol("init_uts_ns").unwrap() + info.offset("uts_namespace", "name").unwrap();
            let mut name = [0u8; 6 * UTS_FIELD as usize];
            kernel.read(uts, &mut name).unwrap();
            let field = |i: u64| c_string(&name[(i * UTS_FIELD) as usize..][..UTS_FIELD as usize]);
            assert_eq!(field(0), "Linux", "{}", path.display());
            assert_eq!(
                Some(field(2).as_str()),
                info.osrelease(),
                "{}",
                path.display()
            );
            assert_eq!(field(4), "x86_64", "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} dumps checked");
}

#[test]
fn kernel_text_walk_matches_phys_base_and_direct_map_reads() {
    // The kernel image is mapped twice: at its link address and in the direct map.
    // mem_section is a direct-map pointer; init_top_pgt is a text address; both go
    // through the same walk and must land on RAM the dump holds.
    for crash in CRASHES {
        let path = &all_variants(crash)[0];
        let kernel = Kernel::new(Dump::open(path).unwrap()).unwrap();
        let info = kernel.vmcoreinfo();
        let top = info.symbol("init_top_pgt").unwrap();
        let text_phys = kernel.translate(top).unwrap();
        let phys_base = info.number("phys_base").unwrap() as u64;
        assert_eq!(
            text_phys,
            top.wrapping_sub(0xffff_ffff_8000_0000)
                .wrapping_add(phys_base)
        );
        let sections = info.symbol("mem_section").unwrap();
        let mut word = [0u8; 8];
        kernel.read(sections, &mut word).unwrap();
        assert!(kernel.translate(sections).unwrap() < kernel.dump().info().max_pfn * 4096);
    }
}
