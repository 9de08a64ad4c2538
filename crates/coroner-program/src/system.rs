//! The facts crash's `sys` shows, read from kernel data with kallsyms and BTF:
//! identity (init_uts_ns), CPUs, memory, load average, uptime and wall-clock time.

use crate::program::c_string;
use crate::Program;
use coroner_kernel::dmesg::Log;

/// What `sys` reports. Fields the dump cannot answer are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemInfo {
    pub cpus: Option<u32>,
    pub cpus_offline: Option<u32>,
    /// Wall-clock seconds (UTC) when the kernel last updated its clock.
    pub time: Option<i64>,
    pub uptime_seconds: Option<u64>,
    /// The timer frequency the uptime was counted with (the CONFIG_HZ that
    /// agrees with the log).
    pub hz: Option<u64>,
    pub load_average: Option<[f64; 3]>,
    pub nodename: Option<String>,
    pub release: Option<String>,
    pub version: Option<String>,
    pub machine: Option<String>,
    pub cpu_mhz: Option<u64>,
    pub memory_pages: Option<u64>,
}

/// `struct new_utsname`: six `char[65]` fields.
const UTS_FIELD: usize = 65;
/// avenrun[] is fixed point with 11 fractional bits (FSHIFT).
const FSHIFT: u32 = 11;
/// Timer frequencies Linux is built with (CONFIG_HZ).
const HZ_CHOICES: [u64; 4] = [100, 250, 300, 1000];

impl Program {
    /// The `sys` facts. `log` is the kernel log when the caller has read it: its
    /// last timestamp tells which timer frequency the jiffies count in.
    pub fn system_info(&self, log: Option<&Log>) -> SystemInfo {
        let uts = self.uts_fields();
        let field = |i: usize| uts.as_ref().map(|u| u[i].clone());
        let uptime = self.uptime(log.and_then(last_log_seconds));
        SystemInfo {
            cpus: self.cpu_count(),
            cpus_offline: self.offline_cpus(),
            time: self.wall_clock(),
            uptime_seconds: uptime.map(|(_, secs)| secs),
            hz: uptime.map(|(hz, _)| hz),
            load_average: self.load_average(),
            nodename: field(1),
            release: field(2),
            version: field(3),
            machine: field(4),
            cpu_mhz: self
                .read_u32(self.address_of("cpu_khz").unwrap_or(0))
                .ok()
                .map(|k| u64::from(k) / 1000),
            memory_pages: self.present_pages(),
        }
    }

    fn uts_fields(&self) -> Option<Vec<String>> {
        let info = self.kernel().vmcoreinfo();
        // VMCOREINFO has the offset since 5.11, when `name` became the first member
        // (a kref came first before: offset 4); BTF knows it either way.
        let name = info
            .offset("uts_namespace", "name")
            .or_else(|| self.types().ok()?.offset_of("uts_namespace", "name"))
            .unwrap_or(0);
        let at = info.symbol("init_uts_ns")? + name;
        let mut raw = [0u8; 6 * UTS_FIELD];
        self.read(at, &mut raw).ok()?;
        Some(raw.chunks(UTS_FIELD).map(c_string).collect())
    }

    /// CPUs possible at boot but not online when the dump was taken (a panic
    /// stops the other CPUs, which then count as offline, as crash reports).
    fn offline_cpus(&self) -> Option<u32> {
        let cpus = self.cpu_count()?;
        let mask = self.address_of("__cpu_online_mask")?;
        let mut online = 0;
        for word in 0..u64::from(cpus).div_ceil(64) {
            online += self.read_u64(mask + 8 * word).ok()?.count_ones();
        }
        Some(cpus.saturating_sub(online))
    }

    /// `tk_core.timekeeper.xtime_sec`. tk_core is an anonymous struct (a seqcount,
    /// then the timekeeper at the next 8-byte boundary), so BTF gives its parts.
    fn wall_clock(&self) -> Option<i64> {
        let btf = self.types().ok()?;
        let seq = btf.size_of(btf.find("seqcount_raw_spinlock_t")?)?;
        let xtime = btf.offset_of("timekeeper", "xtime_sec")?;
        let at = self.address_of("tk_core")? + seq.next_multiple_of(8) + xtime;
        self.read_u64(at).ok().map(|s| s as i64).filter(|&s| s > 0)
    }

    /// Seconds since boot from `jiffies_64`, which starts at INITIAL_JIFFIES
    /// (five minutes before wrapping 32 bits). HZ is not recorded anywhere in the
    /// dump, so it is the value that agrees best with the log's last timestamp.
    fn uptime(&self, log_secs: Option<u64>) -> Option<(u64, u64)> {
        let jiffies = self.read_u64(self.address_of("jiffies_64")?).ok()?;
        HZ_CHOICES
            .iter()
            .map(|&hz| {
                let initial = u64::from((-300i64 * hz as i64) as u32);
                (hz, jiffies.wrapping_sub(initial) / hz)
            })
            .filter(|&(_, secs)| secs < 100 * 365 * 86400)
            .min_by_key(|&(_, secs)| log_secs.map_or(0, |l| secs.abs_diff(l)))
    }

    fn load_average(&self) -> Option<[f64; 3]> {
        let at = self.address_of("avenrun")?;
        let mut avg = [0f64; 3];
        for (i, slot) in avg.iter_mut().enumerate() {
            let fixed = self.read_u64(at + 8 * i as u64).ok()?;
            *slot = fixed as f64 / f64::from(1u32 << FSHIFT);
        }
        Some(avg)
    }

    /// Pages of RAM the kernel manages: `node_present_pages` over the online nodes.
    fn present_pages(&self) -> Option<u64> {
        let btf = self.types().ok()?;
        let present = btf.offset_of("pglist_data", "node_present_pages")?;
        let info = self.kernel().vmcoreinfo();
        let nodes = info.symbol("node_data")?;
        let count = info.length("node_data").unwrap_or(1).min(1024);
        let mut total = 0;
        for node in 0..count {
            let pgdat = self.read_u64(nodes + 8 * node).ok()?;
            if pgdat != 0 {
                total += self.read_u64(pgdat + present).ok()?;
            }
        }
        Some(total)
    }
}

/// Seconds since boot at the last log record (the plain pre-3.5 log has no
/// record timestamps).
fn last_log_seconds(log: &Log) -> Option<u64> {
    match log {
        Log::Records(r) => r.last().map(|r| r.ts_nsec / 1_000_000_000),
        Log::Plain(_) => None,
    }
}
