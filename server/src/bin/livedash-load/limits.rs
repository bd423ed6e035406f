//! The open-files limit, read from `/proc/self/limits` (no libc): each
//! connection is a file descriptor, so a run of N connections needs a soft
//! limit above N (`ulimit -n 65536` in the shell that starts it, and in the
//! server's shell too).

/// Descriptors the process uses besides its connections (stdio, the
/// runtime's epoll and wakers, publishers).
pub const SPARE_FILES: u64 = 64;

/// The soft limit on open files, if it can be read (`None` on systems
/// without `/proc`, or when unlimited).
pub fn open_files_soft_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files(&limits)
}

fn parse_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_soft_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_open_files(limits), Some(1024));
        assert_eq!(
            parse_open_files(
                "Max open files            unlimited            unlimited            files"
            ),
            None
        );
    }
}
