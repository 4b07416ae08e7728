//! corral's own nftables table: the NAT rule of the default bridge. Only this table is ever
//! created or deleted; every other table, chain and rule is left as it is.
//!
//! `nft -f -` applies a batch atomically; this runs once per bridge bring-up, not per
//! container, so the program's start-up cost does not matter.

use std::io::Write;
use std::process::{Command, Stdio};

use corral_hooks::Cidr;

/// The nftables program.
const NFT: &str = "nft";

/// Creates (or replaces) the table with a rule that masquerades what leaves `subnet` for
/// elsewhere.
pub fn masquerade(table: &str, subnet: Cidr) -> std::io::Result<()> {
    let family = if subnet.address.is_ipv4() {
        "ip"
    } else {
        "ip6"
    };
    let net = network(subnet);
    // `add` then `delete` makes the batch work whether or not the table exists already.
    let batch = format!(
        "add table inet {table}\n\
         delete table inet {table}\n\
         table inet {table} {{\n\
         \tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\t{family} saddr {net} {family} daddr != {net} masquerade\n\
         \t}}\n\
         }}\n"
    );
    run(&batch)
}

/// Deletes the table if it exists.
pub fn delete(table: &str) -> std::io::Result<()> {
    run(&format!(
        "add table inet {table}\ndelete table inet {table}\n"
    ))
}

/// Whether the table exists.
pub fn exists(table: &str) -> bool {
    Command::new(NFT)
        .args(["list", "table", "inet", table])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `10.77.0.1/24` as the subnet it is in, `10.77.0.0/24`.
fn network(cidr: Cidr) -> String {
    match cidr.address {
        std::net::IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(cidr.prefix))
                .unwrap_or(0);
            format!(
                "{}/{}",
                std::net::Ipv4Addr::from(u32::from(a) & mask),
                cidr.prefix
            )
        }
        std::net::IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(cidr.prefix))
                .unwrap_or(0);
            format!(
                "{}/{}",
                std::net::Ipv6Addr::from(u128::from(a) & mask),
                cidr.prefix
            )
        }
    }
}

fn run(batch: &str) -> std::io::Result<()> {
    let mut child = super::unblocked(&mut Command::new(NFT))
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(batch.as_bytes())?;
    }
    let output = child.wait_with_output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "nft: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_of_an_address() {
        assert_eq!(network("10.77.0.1/24".parse().unwrap()), "10.77.0.0/24");
        assert_eq!(network("fd42::1/64".parse().unwrap()), "fd42::/64");
    }
}
