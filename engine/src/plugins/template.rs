//! A plugin's template, behind the engine's [`Template`] trait.

use std::sync::Arc;

use corral_plugin::{Request, TemplateRequest};

use super::Plugin;
use crate::templates::{Template, TemplateContext, TemplateError};

/// One template a plugin provides.
pub struct PluginTemplate {
    name: &'static str,
    description: &'static str,
    plugin: Arc<Plugin>,
}

impl PluginTemplate {
    /// The template `name` from the installed plugins, if one provides it.
    pub fn find(name: &str, dirs: &[std::path::PathBuf]) -> Option<PluginTemplate> {
        super::installed(dirs)
            .into_iter()
            .filter_map(|(_, p)| p.ok())
            .find(|p| p.info.templates.iter().any(|t| t == name))
            .map(|plugin| PluginTemplate {
                // A template lives as long as the command: leaking two short strings is how
                // it meets the trait's `'static` names.
                name: Box::leak(name.to_owned().into_boxed_str()),
                description: Box::leak(
                    format!("from plugin {}", plugin.info.name).into_boxed_str(),
                ),
                plugin,
            })
    }
}

impl Template for PluginTemplate {
    fn name(&self) -> &'static str {
        self.name
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn build(&self, ctx: &TemplateContext<'_>) -> Result<toml::Table, TemplateError> {
        let fail = |message: String| TemplateError::Command {
            template: self.name.to_owned(),
            message,
        };
        (ctx.progress)(&format!(
            "running template {} of plugin {}",
            self.name, self.plugin.info.name
        ));
        let settings: serde_json::Value = self
            .plugin
            .call(&Request::Template(TemplateRequest {
                template: self.name.to_owned(),
                container: ctx.name.to_owned(),
                rootfs: ctx.rootfs.to_owned(),
                args: ctx.args.to_vec(),
            }))
            .map_err(|e| fail(crate::error_chain(&e)))?;
        // JSON objects map onto TOML tables; `null`s have no TOML form and mean "unset".
        let text = serde_json::to_string(&settings).map_err(|e| fail(e.to_string()))?;
        let value: toml::Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        match value {
            toml::Value::Table(table) => Ok(table),
            _ => Err(fail("the template's settings are not a table".into())),
        }
    }
}
