//! `veth`: a pair of interfaces, one end in the container and the other on the host, in a
//! bridge (corral's default bridge unless `link` names another).
//!
//! At stop, a host end whose name corral made up is left to the kernel: it goes with the
//! container's namespace, which the kernel tears down in the background once init is gone
//! and the monitor lets go of it. Deleting it here would cost the stop a synchronous RCU
//! grace period, some 25 ms, for nothing: the name is never used again. A host end the
//! user named is deleted at once, so that the next start can have the name.

use corral_hooks::InterfacePlan;

use super::NetworkError;
use super::addressing::{self, check_name};
use super::driver::{AttachContext, Attached, Driver, PlanContext};
use crate::net::bridge;
use crate::net::netlink::VethSpec;
use crate::stages::PlanError;

/// The veth driver.
#[derive(Debug)]
pub struct Veth;

impl Driver for Veth {
    fn name(&self) -> &str {
        "veth"
    }

    fn plan(&self, iface: &mut InterfacePlan, ctx: &mut PlanContext<'_>) -> Result<(), PlanError> {
        let host = iface
            .host_name
            .get_or_insert_with(|| addressing::host_name(ctx.index))
            .clone();
        check_name(ctx, "host_name", &host)?;
        let bridge = iface
            .link
            .get_or_insert_with(|| ctx.bridge.name.clone())
            .clone();
        if bridge == ctx.bridge.name {
            // corral's own bridge comes up on first use: it need not exist yet.
            return addressing::check_in_bridge_subnet(ctx, iface);
        }
        match ctx.host_link(&bridge)? {
            None => Err(ctx.error("link", format!("unknown bridge {bridge}"))),
            Some(link) if link.kind.as_deref() != Some("bridge") => Err(ctx.error(
                "link",
                format!(
                    "{bridge} is not a bridge (it is a {})",
                    link.kind.as_deref().unwrap_or("device")
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    fn attach(
        &self,
        iface: &InterfacePlan,
        ctx: &mut AttachContext<'_>,
    ) -> Result<Attached, NetworkError> {
        let host = iface.host_name.as_deref().unwrap_or_default();
        let bridge = match &iface.link {
            Some(name) => Some(ctx.host.require(name)?.index),
            None => None,
        };
        ctx.host.create_veth(&VethSpec {
            host,
            peer: &iface.name,
            netns: ctx.netns,
            bridge,
            mtu: iface.mtu,
        })?;
        if on_default_bridge(iface, ctx) && !iface.addresses.is_empty() {
            let addresses: Vec<_> = iface.addresses.iter().map(|c| c.address).collect();
            bridge::publish_names(
                ctx.bridge,
                ctx.paths,
                &names_entry(iface, ctx),
                ctx.container,
                &addresses,
            )
            .map_err(|e| NetworkError::Io("publish the container's name to dnsmasq".into(), e))?;
        }
        Ok(Attached {
            host_index: Some(ctx.host.require(host)?.index),
            data: serde_json::Value::Null,
        })
    }

    fn detach(
        &self,
        iface: &InterfacePlan,
        attached: &Attached,
        ctx: &mut AttachContext<'_>,
    ) -> Result<(), NetworkError> {
        if on_default_bridge(iface, ctx) {
            bridge::withdraw_names(ctx.bridge, ctx.paths, &names_entry(iface, ctx))
                .map_err(|e| NetworkError::Io("withdraw the container's name".into(), e))?;
        }
        // Deleting the host end deletes the pair.
        if let (Some(index), Some(host)) = (attached.host_index, &iface.host_name)
            && !addressing::is_generated_host_name(host)
        {
            ctx.host.delete_link(index, host)?;
        }
        Ok(())
    }
}

fn on_default_bridge(iface: &InterfacePlan, ctx: &AttachContext<'_>) -> bool {
    iface.link.as_deref() == Some(ctx.bridge.name.as_str())
}

/// The hosts file of one interface of one container, in dnsmasq's directory.
fn names_entry(iface: &InterfacePlan, ctx: &AttachContext<'_>) -> String {
    format!("{}.{}", ctx.container, iface.name)
}
