//! Detection of the host's name and addresses, the default SANs of the serving certificate.

use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Interfaces kolibri creates itself; their addresses are cluster-internal and would make
/// the serving certificate change after the first start.
const OWN_INTERFACE_PREFIXES: &[&str] = &["kolibri", "veth", "flannel", "cni"];

/// The host name, as the kernel reports it; `localhost` if it cannot be read.
pub fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(gethostname);
    name.unwrap_or_else(|| "localhost".to_owned())
}

fn gethostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let name = CStr::from_bytes_until_nul(&buf).ok()?.to_str().ok()?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Addresses of the host's up interfaces, excluding loopback, link-local and kolibri's own
/// interfaces. Sorted and deduplicated so that the result is stable across starts.
pub fn host_ips() -> Vec<IpAddr> {
    let mut ips = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot list host addresses");
        return ips;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list returned by getifaddrs, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_flags & (libc::IFF_UP as libc::c_uint) == 0 || ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }.to_string_lossy();
        if OWN_INTERFACE_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        // SAFETY: ifa_addr is non-null and its family says which sockaddr type it points to.
        let ip = unsafe { sockaddr_ip(ifa.ifa_addr) };
        if let Some(ip) = ip.filter(|ip| is_host_address(*ip)) {
            ips.push(ip);
        }
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    ips.sort();
    ips.dedup();
    ips
}

/// # Safety
/// `addr` must point to a valid socket address whose size matches its family.
unsafe fn sockaddr_ip(addr: *const libc::sockaddr) -> Option<IpAddr> {
    match i32::from((*addr).sa_family) {
        libc::AF_INET => {
            let sin = &*addr.cast::<libc::sockaddr_in>();
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))))
        }
        libc::AF_INET6 => {
            let sin6 = &*addr.cast::<libc::sockaddr_in6>();
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

fn is_host_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified(),
        // fe80::/10: link-local addresses need a zone and are useless in a certificate.
        IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_is_not_empty() {
        assert!(!hostname().is_empty());
    }

    #[test]
    fn host_ips_exclude_loopback_and_link_local() {
        for ip in host_ips() {
            assert!(is_host_address(ip), "{ip} should have been filtered");
        }
    }

    #[test]
    fn link_local_and_loopback_are_not_host_addresses() {
        assert!(!is_host_address("127.0.0.1".parse().unwrap()));
        assert!(!is_host_address("169.254.1.1".parse().unwrap()));
        assert!(!is_host_address("::1".parse().unwrap()));
        assert!(!is_host_address("fe80::1".parse().unwrap()));
        assert!(is_host_address("10.0.0.5".parse().unwrap()));
        assert!(is_host_address("2001:db8::1".parse().unwrap()));
    }
}
