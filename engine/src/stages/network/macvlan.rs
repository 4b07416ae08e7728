//! `macvlan`: an interface of its own address on a host interface (`link`), born in the
//! container's namespace, in one of LXC's modes.

use corral_hooks::{InterfacePlan, MacvlanMode};
use netlink_packet_route::link::MacVlanMode;

use super::NetworkError;
use super::driver::{AttachContext, Attached, Driver, PlanContext};
use crate::stages::PlanError;

/// The macvlan driver.
#[derive(Debug)]
pub struct Macvlan;

impl Driver for Macvlan {
    fn name(&self) -> &str {
        "macvlan"
    }

    fn plan(&self, iface: &mut InterfacePlan, ctx: &mut PlanContext<'_>) -> Result<(), PlanError> {
        let Some(parent) = iface.link.clone() else {
            return Err(ctx.error("link", "a macvlan needs its host interface"));
        };
        if ctx.host_link(&parent)?.is_none() {
            return Err(ctx.error("link", format!("no interface {parent} on the host")));
        }
        if iface.host_name.is_some() {
            return Err(ctx.error("host_name", "a macvlan has no host end to name"));
        }
        iface.macvlan_mode.get_or_insert(MacvlanMode::Bridge);
        Ok(())
    }

    fn attach(
        &self,
        iface: &InterfacePlan,
        ctx: &mut AttachContext<'_>,
    ) -> Result<Attached, NetworkError> {
        let parent = ctx
            .host
            .require(iface.link.as_deref().unwrap_or_default())?;
        let mode = match iface.macvlan_mode.unwrap_or(MacvlanMode::Bridge) {
            MacvlanMode::Private => MacVlanMode::Private,
            MacvlanMode::Vepa => MacVlanMode::Vepa,
            MacvlanMode::Bridge => MacVlanMode::Bridge,
            MacvlanMode::Passthru => MacVlanMode::Passthrough,
        };
        ctx.host
            .create_macvlan(&iface.name, parent.index, mode, ctx.netns)?;
        Ok(Attached::default())
    }
}
