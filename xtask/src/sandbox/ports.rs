//! Published ports: 127.0.0.1 only, checked before anything starts so a taken port is one clear
//! error naming the port and, where /proc tells, the process holding it.

use std::net::TcpListener;

use anyhow::{bail, Result};

pub const LOOPBACK: &str = "127.0.0.1";

pub fn check_free(port: u16, what: &str) -> Result<()> {
    match TcpListener::bind((LOOPBACK, port)) {
        Ok(_) => Ok(()),
        Err(err) => {
            let who = holder(port).map(|h| format!(" by {h}")).unwrap_or_default();
            bail!(
                "port {port} on {LOOPBACK} (for {what}) is taken{who} ({err}); free it, or choose another with `up --{}-port N`",
                if what.contains("registry") { "registry" } else { "server" }
            )
        }
    }
}

/// The ports asked for when a sandbox is created, checked before anything exists: port 0 (the
/// kernel would pick one at each start, so no later `up` could find it) and one port for both
/// services (the second could never start) are refused.
pub fn check_choice(server: Option<u16>, registry: Option<u16>) -> Result<()> {
    for (flag, port) in [("--server-port", server), ("--registry-port", registry)] {
        if port == Some(0) {
            bail!("{flag} 0 is not a port a sandbox can keep: give a fixed port (1-65535), or leave it out for the default");
        }
    }
    let s = server.unwrap_or(crate::sandbox::DEFAULT_SERVER_PORT);
    let r = registry.unwrap_or(crate::sandbox::DEFAULT_REGISTRY_PORT);
    if s == r {
        bail!("the notary server and the registry cannot publish the same port ({s}): give --server-port and --registry-port different values");
    }
    Ok(())
}

/// "pid 123 (nginx)" for the process listening on `port`, when /proc shows it.
pub fn holder(port: u16) -> Option<String> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .find_map(|table| listening_inode(&table, port))?;
    let needle = format!("socket:[{inode}]");
    for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = proc_entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == needle) {
                let comm = std::fs::read_to_string(proc_entry.path().join("comm")).unwrap_or_default();
                return Some(format!("pid {pid} ({})", comm.trim()));
            }
        }
    }
    Some(format!("socket inode {inode}"))
}

/// The inode of a LISTEN socket on `port` in a /proc/net/tcp table.
pub fn listening_inode(table: &str, port: u16) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let local = cols.get(1)?;
        let (_, port_hex) = local.rsplit_once(':')?;
        let listening = cols.get(3)? == &"0A";
        (listening && u16::from_str_radix(port_hex, 16).ok()? == port).then(|| cols.get(9)?.parse().ok())?
    })
}

/// A free loopback port chosen by the kernel (for tests and for `up --server-port 0`).
pub fn ephemeral() -> Result<u16> {
    Ok(TcpListener::bind((LOOPBACK, 0))?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:115B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 424242 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1388 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 777 1\n";

    #[test]
    fn finds_listening_sockets_only() {
        assert_eq!(listening_inode(TABLE, 4443), Some(424242));
        assert_eq!(listening_inode(TABLE, 5000), None, "established, not listening");
        assert_eq!(listening_inode(TABLE, 1), None);
    }

    #[test]
    fn port_zero_and_one_port_for_both_are_refused() {
        assert!(check_choice(Some(0), None).unwrap_err().to_string().contains("--server-port 0"));
        assert!(check_choice(None, Some(0)).unwrap_err().to_string().contains("--registry-port 0"));
        assert!(check_choice(Some(7000), Some(7000)).unwrap_err().to_string().contains("the same port"));
        assert!(check_choice(Some(5000), None).unwrap_err().to_string().contains("the same port"));
        check_choice(Some(7000), Some(7001)).unwrap();
        check_choice(None, None).unwrap();
    }

    #[test]
    fn a_taken_port_names_port_and_holder() {
        let l = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        let err = check_free(port, "notaryserver").unwrap_err().to_string();
        assert!(err.contains(&format!("port {port}")), "{err}");
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(l);
        check_free(port, "notaryserver").unwrap();
    }
}
