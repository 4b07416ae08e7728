//! A plugin's network driver, behind the engine's [`Driver`] trait.

use std::sync::Arc;

use corral_hooks::InterfacePlan;
use corral_plugin::{DriverRequest, Request};

use super::Plugin;
use crate::stages::PlanError;
use crate::stages::network::NetworkError;
use crate::stages::network::driver::{AttachContext, Attached, Driver, PlanContext};

/// One driver a plugin provides.
struct PluginDriver {
    name: String,
    plugin: Arc<Plugin>,
}

/// Registers every driver `plugin` provides.
pub(super) fn register(plugin: &Arc<Plugin>) {
    for name in &plugin.info.drivers {
        crate::stages::network::driver::register(Arc::new(PluginDriver {
            name: name.clone(),
            plugin: Arc::clone(plugin),
        }));
    }
}

impl PluginDriver {
    fn request(
        &self,
        iface: &InterfacePlan,
        container: &str,
        netns: String,
        data: serde_json::Value,
    ) -> DriverRequest {
        DriverRequest {
            container: container.to_owned(),
            interface: iface.clone(),
            netns: netns.into(),
            data,
        }
    }

    fn failed(iface: &InterfacePlan) -> impl FnOnce(super::PluginError) -> NetworkError + '_ {
        |e| NetworkError::Driver {
            interface: iface.name.clone(),
            message: crate::error_chain(&e),
        }
    }
}

impl Driver for PluginDriver {
    fn name(&self) -> &str {
        &self.name
    }

    fn plan(&self, iface: &mut InterfacePlan, ctx: &mut PlanContext<'_>) -> Result<(), PlanError> {
        let req = self.request(iface, ctx.container, String::new(), serde_json::Value::Null);
        *iface = self
            .plugin
            .call(&Request::DriverPlan(req))
            .map_err(|e| ctx.error("type", crate::error_chain(&e)))?;
        Ok(())
    }

    fn attach(
        &self,
        iface: &InterfacePlan,
        ctx: &mut AttachContext<'_>,
    ) -> Result<Attached, NetworkError> {
        let req = self.request(
            iface,
            ctx.container,
            ctx.netns_path(),
            serde_json::Value::Null,
        );
        let data = self
            .plugin
            .call(&Request::DriverAttach(req))
            .map_err(Self::failed(iface))?;
        Ok(Attached {
            host_index: None,
            data,
        })
    }

    fn detach(
        &self,
        iface: &InterfacePlan,
        attached: &Attached,
        ctx: &mut AttachContext<'_>,
    ) -> Result<(), NetworkError> {
        let req = self.request(
            iface,
            ctx.container,
            ctx.netns_path(),
            attached.data.clone(),
        );
        self.plugin
            .call::<serde_json::Value>(&Request::DriverDetach(req))
            .map(drop)
            .map_err(Self::failed(iface))
    }
}
