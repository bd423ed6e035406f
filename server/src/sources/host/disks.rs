//! The host's disks: space per mounted file system and I/O rates per
//! device.
//!
//! Space comes from sysinfo's list of mounted disks, without the virtual
//! and in-memory file systems it may list (`proc`, `sysfs`, `tmpfs`,
//! `devtmpfs`, `overlay`, `squashfs`, `cgroup`…: [`VIRTUAL`]), one series
//! per device at its shortest mount point (a device mounted twice shares
//! its space: bind mounts, btrfs subvolumes and a container's volumes
//! would repeat it), and files bind-mounted alone are left out.
//! I/O comes from Linux's `/proc/diskstats` (sectors of 512 bytes read and
//! written), for whole devices only (those listed in `/sys/block`, less
//! `loop`, `ram` and `zram` devices), turned into per-second rates between two
//! reads; elsewhere, or when the file cannot be read, there is no I/O
//! series and no error.

use std::{collections::HashMap, path::Path, time::Duration};

use sysinfo::Disks;

use super::counter_rate;

/// File systems that hold no disk space of their own.
pub const VIRTUAL: [&str; 22] = [
    "proc",
    "sysfs",
    "tmpfs",
    "devtmpfs",
    "devpts",
    "overlay",
    "squashfs",
    "cgroup",
    "cgroup2",
    "nsfs",
    "tracefs",
    "debugfs",
    "securityfs",
    "pstore",
    "bpf",
    "autofs",
    "mqueue",
    "hugetlbfs",
    "fusectl",
    "configfs",
    "ramfs",
    "efivarfs",
];

/// One mounted file system's space, in bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Mount {
    /// Where it is mounted.
    pub mount: String,
    /// Used.
    pub used: u64,
    /// In all.
    pub total: u64,
    /// Free for unprivileged users.
    pub free: u64,
}

/// One device's I/O, in bytes per second.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceIo {
    /// Its name (`sda`, `nvme0n1`).
    pub device: String,
    /// Read.
    pub read: f64,
    /// Written.
    pub write: f64,
}

/// Space per mount, from a refreshed list of disks, without virtual file
/// systems, files bind-mounted alone (a container's `/etc/hosts`) and
/// second mounts of a device already listed.
pub fn mounts(disks: &Disks) -> Vec<Mount> {
    let listed: Vec<(String, Mount)> = disks
        .iter()
        .filter(|d| {
            let fs = d.file_system().to_string_lossy();
            !VIRTUAL.contains(&fs.as_ref()) && d.total_space() > 0 && d.mount_point().is_dir()
        })
        .map(|d| {
            (
                d.name().to_string_lossy().into_owned(),
                Mount {
                    mount: d.mount_point().to_string_lossy().into_owned(),
                    used: d.total_space().saturating_sub(d.available_space()),
                    total: d.total_space(),
                    free: d.available_space(),
                },
            )
        })
        .collect();
    one_per_device(listed)
}

/// One mount per device (a `/dev/...` name): the shortest mount point,
/// where a device is mounted twice (bind mounts, btrfs subvolumes, a
/// container's volumes) and so shares its space. Other names (`server:/export`,
/// a ZFS dataset, `none`) are kept per mount point. Sorted by mount point.
fn one_per_device(listed: Vec<(String, Mount)>) -> Vec<Mount> {
    let mut by_key: HashMap<String, Mount> = HashMap::new();
    for (name, mount) in listed {
        let key = if name.starts_with("/dev/") {
            name
        } else {
            format!("mount {}", mount.mount)
        };
        match by_key.get(&key) {
            Some(kept) if (kept.mount.len(), &kept.mount) <= (mount.mount.len(), &mount.mount) => {}
            _ => {
                by_key.insert(key, mount);
            }
        }
    }
    let mut out: Vec<Mount> = by_key.into_values().collect();
    out.sort_by(|a, b| a.mount.cmp(&b.mount));
    out
}

/// Sectors read and written per whole device, from the text of
/// `/proc/diskstats`; `whole` says which names are whole devices.
pub fn parse_diskstats(text: &str, whole: impl Fn(&str) -> bool) -> HashMap<String, (u64, u64)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let name = *fields.get(2)?;
            if ["loop", "ram", "zram"].iter().any(|p| name.starts_with(p)) || !whole(name) {
                return None;
            }
            let read = fields.get(5)?.parse().ok()?;
            let written = fields.get(9)?.parse().ok()?;
            Some((name.to_string(), (read, written)))
        })
        .collect()
}

/// The current sector counters of the host's whole devices (empty when
/// `/proc/diskstats` cannot be read). Whole devices are those `/sys/block`
/// lists; without `/sys` (some containers), those whose names do not look
/// like partitions ([`looks_like_partition`]).
pub fn read_counters() -> HashMap<String, (u64, u64)> {
    let Ok(text) = std::fs::read_to_string("/proc/diskstats") else {
        return HashMap::new();
    };
    let sys_block = Path::new("/sys/block");
    if sys_block.is_dir() {
        parse_diskstats(&text, |name| sys_block.join(name).exists())
    } else {
        parse_diskstats(&text, |name| !looks_like_partition(name))
    }
}

/// Whether a device name is a partition's by the kernel's naming:
/// `sda1`, `vdb2`, `xvda1`, `hdc3` (a disk's letters then digits), and
/// `nvme0n1p1`, `mmcblk0p2`, `md0p1` (a digit, `p`, digits).
pub fn looks_like_partition(name: &str) -> bool {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return false;
    }
    let stem = &name[..name.len() - digits];
    let lettered = ["sd", "vd", "hd", "xvd"].iter().any(|p| {
        stem.starts_with(p)
            && stem.len() > p.len()
            && stem[p.len()..].bytes().all(|b| b.is_ascii_lowercase())
    });
    let numbered = stem
        .strip_suffix('p')
        .is_some_and(|s| s.ends_with(|c: char| c.is_ascii_digit()));
    lettered || numbered
}

/// Per-second rates between two reads of the counters (a device seen only
/// now has no rate yet).
pub fn rates(
    before: &HashMap<String, (u64, u64)>,
    now: &HashMap<String, (u64, u64)>,
    elapsed: Duration,
) -> Vec<DeviceIo> {
    let mut out: Vec<DeviceIo> = now
        .iter()
        .filter_map(|(device, &(read, written))| {
            let &(read_before, written_before) = before.get(device)?;
            Some(DeviceIo {
                device: device.clone(),
                read: counter_rate(read_before, read, elapsed) * 512.0,
                write: counter_rate(written_before, written, elapsed) * 512.0,
            })
        })
        .collect();
    out.sort_by(|a, b| a.device.cmp(&b.device));
    out
}

/// Processes running on the host: the numbered entries of `/proc` (`None`
/// where there is no such directory).
pub fn process_count() -> Option<u64> {
    let entries = std::fs::read_dir("/proc").ok()?;
    Some(
        entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .count() as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISKSTATS: &str = "\
 259       0 nvme0n1 51234 1200 4096000 3000 20000 5000 8192000 9000 0 10000 12000 0 0 0 0
 259       1 nvme0n1p1 100 0 2048 10 10 0 80 1 0 5 11 0 0 0 0
   7       0 loop0 50 0 400 1 0 0 0 0 0 1 1 0 0 0 0
 252       0 zram0 9 0 72 0 4 0 32 0 0 0 0 0 0 0 0
   8       0 sda 10 0 80 1 2 0 16 1 0 2 2
 bad line
";

    #[test]
    fn whole_devices_are_read_and_partitions_loop_and_ram_devices_and_bad_lines_skipped() {
        let counters = parse_diskstats(DISKSTATS, |name| !name.ends_with("p1"));
        assert_eq!(counters.len(), 2);
        assert_eq!(counters["nvme0n1"], (4_096_000, 8_192_000));
        assert_eq!(counters["sda"], (80, 16));
    }

    fn mount(at: &str, used: u64) -> Mount {
        Mount {
            mount: at.into(),
            used,
            total: 100,
            free: 100 - used,
        }
    }

    #[test]
    fn a_device_mounted_twice_is_counted_once_at_its_shortest_mount() {
        let listed = vec![
            ("/dev/vda".to_string(), mount("/var/lib/docker", 40)),
            ("/dev/vda".to_string(), mount("/", 40)),
            ("/dev/vdb1".to_string(), mount("/data", 10)),
            ("server:/export".to_string(), mount("/mnt/a", 5)),
            ("server:/export".to_string(), mount("/mnt/b", 5)),
        ];
        let mounts: Vec<String> = one_per_device(listed)
            .into_iter()
            .map(|m| m.mount)
            .collect();
        assert_eq!(mounts, ["/", "/data", "/mnt/a", "/mnt/b"]);
    }

    #[test]
    fn partitions_are_told_from_whole_devices_by_name() {
        for partition in [
            "sda1",
            "vdb12",
            "xvda1",
            "hdc3",
            "nvme0n1p1",
            "mmcblk0p2",
            "md0p1",
        ] {
            assert!(looks_like_partition(partition), "{partition}");
        }
        for whole in [
            "sda", "vdb", "xvda", "nvme0n1", "mmcblk0", "md0", "dm-0", "sr0", "loop0p",
        ] {
            assert!(!looks_like_partition(whole), "{whole}");
        }
    }

    #[test]
    fn rates_are_bytes_per_second_and_a_new_device_waits_for_a_second_read() {
        let before: HashMap<String, (u64, u64)> = [("sda".to_string(), (100, 200))].into();
        let now: HashMap<String, (u64, u64)> =
            [("sda".to_string(), (300, 200)), ("sdb".to_string(), (5, 5))].into();
        let io = rates(&before, &now, Duration::from_secs(2));
        assert_eq!(
            io,
            [DeviceIo {
                device: "sda".into(),
                read: 51_200.0,
                write: 0.0
            }]
        );
    }

    #[test]
    fn this_host_can_be_read_without_error() {
        // Whatever the machine (a container may have no disks or I/O).
        let _ = read_counters();
        if let Ok(disks) = Disks::new_with_refreshed_list() {
            for mount in mounts(&disks) {
                assert!(mount.used <= mount.total, "{mount:?}");
            }
        }
        if Path::new("/proc").exists() {
            assert!(process_count().is_some_and(|n| n > 0));
        }
    }
}
