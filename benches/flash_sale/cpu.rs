//! Where a scenario's CPU went: the server's processes, PostgreSQL's, Redis's and the machine's,
//! from /proc, as CPU time per hold. A closed loop saturates both cores, so holds per second is
//! the inverse of this sum; the split says which side a change must make cheaper.
//!
//! Throughput on these shared machines drifts by a fifth between runs of the same build (a
//! neighbour's load slows every instruction). CPU per hold drifts with it, but the split between
//! server and PostgreSQL does not, and that is what decides where to work.

use std::future::Future;

use crate::load::HoldRun;

/// Runs `run` and says, beside its outcome, the CPU time it took per hold (201) by process.
pub async fn per_hold_of(servers: &[u32], run: impl Future<Output = HoldRun>) -> (HoldRun, String) {
    let before = Ticks::now(servers);
    let run = run.await;
    let spent = before.per_hold(Ticks::now(servers), run.tally.count("201"));
    (run, spent)
}

/// Linux reports process times in ticks of `USER_HZ`, which is 100 on every architecture this
/// runs on (it is fixed by the kernel's ABI, not by `CONFIG_HZ`).
const TICKS_PER_SECOND: u64 = 100;

/// CPU ticks used so far, by whom.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ticks {
    server: u64,
    postgres: u64,
    redis: u64,
    /// Every core's busy time (user, nice, system, irq, softirq), the harness's included.
    machine: u64,
}

impl Ticks {
    /// Now, for the server processes `servers` (their threads included) and every process named
    /// `postgres` or `redis-server`. A PostgreSQL backend that exits in between takes its ticks
    /// with it; the server's pools keep theirs open for the whole of a scenario.
    fn now(servers: &[u32]) -> Self {
        let mut ticks = Self { machine: machine_busy(), ..Self::default() };
        let Ok(processes) = std::fs::read_dir("/proc") else { return ticks };
        for entry in processes.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let Some((name, used)) = process_ticks(pid) else { continue };
            if servers.contains(&pid) {
                ticks.server += used;
            } else if name == "postgres" {
                ticks.postgres += used;
            } else if name == "redis-server" {
                ticks.redis += used;
            }
        }
        ticks
    }

    /// CPU time per hold between `self` and `later`, for the report.
    fn per_hold(self, later: Self, holds: u64) -> String {
        let micros =
            |from: u64, to: u64| to.saturating_sub(from) as f64 * 1e6 / TICKS_PER_SECOND as f64 / holds.max(1) as f64;
        let server = micros(self.server, later.server);
        let postgres = micros(self.postgres, later.postgres);
        let redis = micros(self.redis, later.redis);
        let machine = micros(self.machine, later.machine);
        let share = |part: f64| 100.0 * part / machine.max(1e-9);
        format!(
            "CPU per hold: server {server:.0} µs ({:.0} %), PostgreSQL {postgres:.0} µs ({:.0} %), Redis {redis:.0} µs ({:.0} %); \
             the machine in all {machine:.0} µs (load generator and the rest: {:.0} µs)",
            share(server),
            share(postgres),
            share(redis),
            (machine - server - postgres - redis).max(0.0)
        )
    }
}

/// A process's name and its user plus system ticks (all its threads), from `/proc/<pid>/stat`.
fn process_ticks(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (name) state ppid ...": the name may hold spaces and parentheses, so split at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the name: state is field 3 of stat(5), utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// All cores' busy ticks since boot, from the first line of `/proc/stat`.
fn machine_busy() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else { return 0 };
    let Some(cpu) = stat.lines().next() else { return 0 };
    let values: Vec<u64> = cpu.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal ...: busy is all but idle, iowait and steal.
    [0, 1, 2, 5, 6].iter().filter_map(|&i| values.get(i)).sum()
}
