//! The resident memory of a process, from `/proc/<pid>/status` (`VmRSS`):
//! how an idle run measures what each connection costs the server.
//!
//! RSS is what the kernel counts as in memory for the process, allocator
//! caches included: a figure per connection is the difference between two
//! samples divided by the connections opened between them, good to a few
//! hundred bytes with thousands of connections.

use std::io;

/// The `VmRSS` of process `pid`, in KiB.
pub fn vm_rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss(&status).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no VmRSS line in /proc/{pid}/status"),
        )
    })
}

/// The `VmRSS` line of a `/proc/<pid>/status` text, in KiB.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_vm_rss_line() {
        let status = "Name:\tlivedash\nVmPeak:\t  200000 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
        assert_eq!(parse_vm_rss("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn this_process_has_a_resident_size() {
        let rss = vm_rss_kib(std::process::id()).unwrap();
        assert!(rss > 0);
    }
}
