//! Names, hardware addresses, IP addresses and gateways: parsed, checked and resolved at plan
//! time, so that a bad setting is refused before anything exists.

use std::net::IpAddr;

use corral_hooks::{Cidr, InterfacePlan, MacAddr};

use super::driver::PlanContext;
use crate::stages::PlanError;

/// The longest interface name the kernel takes (`IFNAMSIZ` less the NUL).
pub const MAX_NAME: usize = 15;

/// Checks an interface name as the kernel would (`dev_valid_name`).
pub fn check_name(ctx: &PlanContext<'_>, field: &str, name: &str) -> Result<(), PlanError> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(ctx.error(
            field,
            format!("`{name}` must be 1 to {MAX_NAME} bytes long"),
        ));
    }
    if name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
    {
        return Err(ctx.error(field, format!("`{name}` is not a valid interface name")));
    }
    Ok(())
}

/// A name for the host end of a veth: `crl`, ten random hex digits and the interface's
/// position. It is new at every start, as LXC's `vethXXXXXX` are: the kernel frees the last
/// start's name in the background (see the veth driver), and a restart must not wait for it.
pub fn host_name(index: usize) -> String {
    let mut bytes = [0u8; 8];
    // getrandom(2) cannot fail for 8 bytes once the pool is up; zeroes would still be a
    // valid (if less unique) name.
    let _ = nix::errno::Errno::result(
        // SAFETY: the buffer is valid for its length; no flags.
        unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) },
    );
    let random = u64::from_le_bytes(bytes) & 0xff_ffff_ffff;
    format!("crl{random:010x}{index}")
}

/// Whether `name` is one [`host_name`] makes.
pub fn is_generated_host_name(name: &str) -> bool {
    name.strip_prefix("crl").is_some_and(|rest| {
        rest.len() > 10
            && rest[..10]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            && rest[10..].bytes().all(|b| b.is_ascii_digit())
    })
}

/// A hardware address from a template where each `x` is a random hex digit (LXC's
/// `10:66:6a:xx:xx:xx`). The digits come from the container's name and the interface's
/// position, so a container keeps its address (and its DHCP lease) across starts. The
/// result is always a unicast address.
pub fn hwaddr(ctx: &PlanContext<'_>, template: &str) -> Result<MacAddr, PlanError> {
    let mut seed = u64::from(fnv1a(&[
        ctx.container.as_bytes(),
        &ctx.index.to_le_bytes(),
        b"hwaddr",
    ]));
    let filled: String = template
        .chars()
        .map(|c| {
            if c == 'x' || c == 'X' {
                let digit = u32::try_from(seed & 0xf).unwrap_or(0);
                seed = seed.rotate_right(4) ^ 0x9e37_79b9;
                char::from_digit(digit, 16).unwrap_or('0')
            } else {
                c
            }
        })
        .collect();
    let mac: MacAddr = filled.parse().map_err(|e| ctx.error("hwaddr", e))?;
    if mac.0[0] & 1 == 1 {
        return Err(ctx.error(
            "hwaddr",
            format!("{mac} is a multicast address: its first byte must be even"),
        ));
    }
    Ok(mac)
}

/// FNV-1a: stable across builds and Rust versions, unlike the standard hasher, so names
/// and addresses survive an upgrade of corral.
fn fnv1a(parts: &[&[u8]]) -> u32 {
    parts
        .iter()
        .flat_map(|p| p.iter())
        .fold(0x811c_9dc5, |h, b| {
            (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
        })
}

/// Parses `ADDRESS/PREFIX` strings of one family; the address may be neither the subnet's
/// network nor its broadcast address.
pub fn addresses(
    ctx: &PlanContext<'_>,
    field: &str,
    texts: &[String],
    v4: bool,
) -> Result<Vec<Cidr>, PlanError> {
    texts
        .iter()
        .map(|text| {
            let cidr: Cidr = text.parse().map_err(|e| ctx.error(field, e))?;
            if cidr.address.is_ipv4() != v4 {
                let family = if v4 { "IPv4" } else { "IPv6" };
                return Err(ctx.error(field, format!("`{text}` is not an {family} address")));
            }
            if let IpAddr::V4(a) = cidr.address
                && cidr.prefix < 31
            {
                let host = u32::MAX >> cidr.prefix;
                let bits = u32::from(a) & host;
                if bits == 0 || bits == host {
                    return Err(ctx.error(
                        field,
                        format!("`{text}` is the subnet's network or broadcast address"),
                    ));
                }
            }
            Ok(cidr)
        })
        .collect()
}

/// A gateway setting: an address, or `auto`: the first address of the same family on the
/// interface's link (the bridge), which must be in one of the interface's subnets.
pub fn gateway(
    ctx: &mut PlanContext<'_>,
    iface: &InterfacePlan,
    field: &str,
    setting: Option<&str>,
    v4: bool,
) -> Result<Option<IpAddr>, PlanError> {
    let Some(setting) = setting else {
        return Ok(None);
    };
    let mine: Vec<&Cidr> = iface
        .addresses
        .iter()
        .filter(|c| c.address.is_ipv4() == v4)
        .collect();
    let gateway = if setting == "auto" {
        let link_addresses = link_addresses(ctx, iface, field)?;
        link_addresses
            .into_iter()
            .find(|c| c.address.is_ipv4() == v4)
            .map(|c| c.address)
            .ok_or_else(|| {
                ctx.error(
                    field,
                    format!(
                        "`auto`: {} has no address of this family",
                        iface.link.as_deref().unwrap_or_default()
                    ),
                )
            })?
    } else {
        let address: IpAddr = setting
            .parse()
            .map_err(|_| ctx.error(field, format!("`{setting}` is not an IP address or `auto`")))?;
        if address.is_ipv4() != v4 {
            return Err(ctx.error(field, format!("`{setting}` is of the wrong family")));
        }
        address
    };
    if mine.iter().any(|c| c.address == gateway) {
        return Err(ctx.error(field, format!("{gateway} is the interface's own address")));
    }
    Ok(Some(gateway))
}

/// The addresses of the interface's link: the default bridge's from the config (it may not
/// be up yet), another's from the host.
fn link_addresses(
    ctx: &mut PlanContext<'_>,
    iface: &InterfacePlan,
    field: &str,
) -> Result<Vec<Cidr>, PlanError> {
    let Some(link) = iface.link.clone() else {
        return Err(ctx.error(
            field,
            "`auto` needs the interface to have a link (a bridge)",
        ));
    };
    if link == ctx.bridge.name {
        return Ok(vec![ctx.bridge.address]);
    }
    let Some(found) = ctx.host_link(&link)? else {
        return Err(ctx.error("link", format!("no interface {link} on the host")));
    };
    Ok(ctx
        .host_addresses(found.index)?
        .into_iter()
        .map(|(address, prefix)| Cidr { address, prefix })
        .collect())
}

/// For a veth on corral's default bridge: every static address must be in its subnet and
/// must not be the bridge's own.
pub fn check_in_bridge_subnet(
    ctx: &PlanContext<'_>,
    iface: &InterfacePlan,
) -> Result<(), PlanError> {
    let bridge = ctx.bridge.address;
    for cidr in iface
        .addresses
        .iter()
        .filter(|c| c.address.is_ipv4() == bridge.address.is_ipv4())
    {
        let field = if cidr.address.is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        };
        if !bridge.contains(cidr.address) || cidr.prefix != bridge.prefix {
            return Err(ctx.error(
                field,
                format!(
                    "{cidr} is out of range: {} has the subnet {bridge}",
                    ctx.bridge.name
                ),
            ));
        }
        if cidr.address == bridge.address {
            return Err(ctx.error(field, format!("{cidr} is the bridge's own address")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BridgeConfig;

    #[test]
    fn names_and_hwaddrs() {
        let bridge = BridgeConfig::default();
        let ctx = PlanContext::new("web", &bridge);
        assert!(check_name(&ctx, "name", "eth0").is_ok());
        let long = check_name(&ctx, "name", "a-very-long-name0").unwrap_err();
        assert_eq!(long.key, "network.interface[0].name");
        assert!(check_name(&ctx, "name", "a/b").is_err());
        let name = host_name(0);
        assert!(
            name.len() <= MAX_NAME && is_generated_host_name(&name),
            "{name}"
        );
        assert!(host_name(99).len() <= MAX_NAME);
        assert_ne!(name, host_name(0));
        assert!(!is_generated_host_name("crlhold0") && !is_generated_host_name("veth0"));
        let mac = hwaddr(&ctx, "10:66:6a:xx:xx:xx").unwrap();
        assert_eq!(mac, hwaddr(&ctx, "10:66:6a:xx:xx:xx").unwrap());
        assert_eq!(&mac.0[..3], &[0x10, 0x66, 0x6a]);
        assert!(hwaddr(&ctx, "01:00:00:00:00:01").is_err());
    }

    #[test]
    fn addresses_are_checked() {
        let bridge = BridgeConfig::default();
        let ctx = PlanContext::new("web", &bridge);
        let ok = addresses(&ctx, "ipv4", &["10.77.0.5/24".into()], true).unwrap();
        assert_eq!(ok[0].prefix, 24);
        for bad in [
            "10.77.0.0/24",
            "10.77.0.255/24",
            "10.77.0.5/40",
            "fd00::1/64",
            "x/24",
        ] {
            assert!(
                addresses(&ctx, "ipv4", &[bad.into()], true).is_err(),
                "{bad}"
            );
        }
        let iface = InterfacePlan {
            driver: "veth".into(),
            name: "eth0".into(),
            host_name: None,
            link: Some(bridge.name.clone()),
            mtu: None,
            hwaddr: None,
            up: true,
            addresses: addresses(&ctx, "ipv4", &["10.78.0.5/24".into()], true).unwrap(),
            ipv4_gateway: None,
            ipv6_gateway: None,
            macvlan_mode: None,
            options: serde_json::Value::Null,
        };
        let err = check_in_bridge_subnet(&ctx, &iface).unwrap_err();
        assert!(err.message.contains("out of range"), "{err}");
        let mut ctx = PlanContext::new("web", &bridge);
        let gw = gateway(&mut ctx, &iface, "ipv4_gateway", Some("auto"), true).unwrap();
        assert_eq!(gw, Some(bridge.address.address));
    }
}
