//! `phys`: a host interface (`link`) moved into the container, and given back to the host
//! under its own name at stop.

use std::os::fd::AsFd;

use corral_hooks::InterfacePlan;

use super::NetworkError;
use super::driver::{AttachContext, Attached, Driver, PlanContext};
use crate::net::netlink::Netlink;
use crate::net::netns;
use crate::stages::PlanError;

/// The phys driver.
#[derive(Debug)]
pub struct Phys;

impl Driver for Phys {
    fn name(&self) -> &str {
        "phys"
    }

    fn plan(&self, iface: &mut InterfacePlan, ctx: &mut PlanContext<'_>) -> Result<(), PlanError> {
        let Some(device) = iface.link.clone() else {
            return Err(ctx.error("link", "phys needs the host interface to move in"));
        };
        match ctx.host_link(&device)? {
            None => return Err(ctx.error("link", format!("no interface {device} on the host"))),
            Some(link) if matches!(link.kind.as_deref(), Some("bridge")) => {
                return Err(ctx.error("link", format!("{device} is a bridge")));
            }
            Some(_) => {}
        }
        if iface.host_name.as_ref().is_some_and(|h| *h != device) {
            return Err(ctx.error("host_name", "phys gives the interface back as `link`"));
        }
        iface.host_name = Some(device);
        Ok(())
    }

    fn attach(
        &self,
        iface: &InterfacePlan,
        ctx: &mut AttachContext<'_>,
    ) -> Result<Attached, NetworkError> {
        let device = ctx
            .host
            .require(iface.link.as_deref().unwrap_or_default())?;
        ctx.host.move_link(device.index, ctx.netns, &iface.name)?;
        Ok(Attached {
            host_index: Some(device.index),
            data: serde_json::Value::Null,
        })
    }

    fn detach(
        &self,
        iface: &InterfacePlan,
        attached: &Attached,
        ctx: &mut AttachContext<'_>,
    ) -> Result<(), NetworkError> {
        if attached.host_index.is_none() {
            return Ok(());
        }
        // Given back to the monitor's namespace by name: the kernel would otherwise hand it
        // to the initial namespace, renamed, once the container's namespace died.
        let mut inside = Netlink::open_in(ctx.netns)?;
        let Some(link) = inside.link(&iface.name)? else {
            return Ok(());
        };
        let home = netns::current()
            .map_err(|e| NetworkError::Io("open the host's network namespace".into(), e))?;
        let host = iface.host_name.as_deref().unwrap_or(&iface.name);
        inside.move_link(link.index, home.as_fd(), host)?;
        Ok(())
    }
}
