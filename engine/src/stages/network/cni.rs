//! `cni`: an interface made by CNI plugins (spec 1.0.0), Debian's in `/usr/lib/cni` by
//! default.
//!
//! Each plugin of the network configuration list runs in turn with `CNI_COMMAND=ADD`, its
//! request on stdin and its result on stdout, each given the result before it. The final
//! result is saved in the runtime directory; at stop every plugin runs again with `DEL`, in
//! reverse, given that result, even when the ADD failed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use corral_hooks::InterfacePlan;
use serde_json::{Value, json};

use super::NetworkError;
use super::driver::{AttachContext, Attached, Driver, PlanContext};
use crate::stages::PlanError;

/// Where plugins are looked for unless `options.path` says otherwise: Debian's package,
/// then upstream's usual place.
const DEFAULT_PATH: [&str; 2] = ["/usr/lib/cni", "/opt/cni/bin"];

/// The CNI driver.
#[derive(Debug)]
pub struct Cni;

impl Driver for Cni {
    fn name(&self) -> &str {
        "cni"
    }

    fn plan(&self, iface: &mut InterfacePlan, ctx: &mut PlanContext<'_>) -> Result<(), PlanError> {
        if !iface.addresses.is_empty()
            || iface.ipv4_gateway.is_some()
            || iface.ipv6_gateway.is_some()
            || iface.hwaddr.is_some()
            || iface.mtu.is_some()
            || iface.link.is_some()
            || iface.host_name.is_some()
        {
            return Err(ctx.error(
                "type",
                "a cni interface takes its addresses, routes, link and MTU from the CNI \
                 configuration: set only name and options",
            ));
        }
        let options = iface.options.as_object().cloned().unwrap_or_default();
        let network = match (options.get("config"), options.get("network")) {
            (Some(Value::String(file)), None) => load(ctx, Path::new(file))?,
            (None, Some(inline @ Value::Object(_))) => inline.clone(),
            _ => {
                return Err(ctx.error(
                    "options",
                    "cni needs either `config` (a file) or `network` (a table)",
                ));
            }
        };
        let network = as_list(network).map_err(|m| ctx.error("options", m))?;
        let path: Vec<String> = match options.get("path") {
            None => DEFAULT_PATH.iter().map(|p| (*p).to_owned()).collect(),
            Some(Value::Array(dirs)) => dirs
                .iter()
                .map(|d| d.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| ctx.error("options.path", "a list of directories"))?,
            Some(_) => return Err(ctx.error("options.path", "a list of directories")),
        };
        for plugin in plugins(&network) {
            let kind = plugin["type"].as_str().unwrap_or_default();
            if find_plugin(&path, kind).is_none() {
                return Err(ctx.error(
                    "options",
                    format!("no CNI plugin `{kind}` in {}", path.join(":")),
                ));
            }
        }
        iface.options = json!({ "network": network, "path": path });
        // The plugins bring the interface up and address it.
        iface.up = false;
        Ok(())
    }

    fn attach(
        &self,
        iface: &InterfacePlan,
        ctx: &mut AttachContext<'_>,
    ) -> Result<Attached, NetworkError> {
        let invocation = Invocation::new(iface, ctx);
        let mut previous: Option<Value> = None;
        for plugin in plugins(&iface.options["network"]) {
            let result = invocation.run("ADD", plugin, previous.as_ref())?;
            previous = Some(result);
        }
        let result = previous.unwrap_or(Value::Null);
        let file = result_file(&ctx.runtime_dir(), &iface.name);
        std::fs::write(&file, result.to_string()).map_err(|e| {
            NetworkError::Io(format!("save the CNI result in {}", file.display()), e)
        })?;
        Ok(Attached {
            host_index: None,
            data: result,
        })
    }

    fn detach(
        &self,
        iface: &InterfacePlan,
        attached: &Attached,
        ctx: &mut AttachContext<'_>,
    ) -> Result<(), NetworkError> {
        let invocation = Invocation::new(iface, ctx);
        let result = (!attached.data.is_null()).then_some(&attached.data);
        let mut first_error = None;
        // Every plugin hears DEL, even when one before it failed: each frees its own.
        for plugin in plugins(&iface.options["network"]).iter().rev() {
            if let Err(e) = invocation.run("DEL", plugin, result) {
                first_error.get_or_insert(e);
            }
        }
        let _ = std::fs::remove_file(result_file(&ctx.runtime_dir(), &iface.name));
        first_error.map_or(Ok(()), Err)
    }
}

/// Reads a `.conflist` or a single plugin's `.conf`.
fn load(ctx: &PlanContext<'_>, file: &Path) -> Result<Value, PlanError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        ctx.error(
            "options.config",
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    serde_json::from_str(&text)
        .map_err(|e| ctx.error("options.config", format!("{}: {e}", file.display())))
}

/// A configuration list, from a list or from a single plugin's configuration.
fn as_list(mut network: Value) -> Result<Value, String> {
    if network.get("plugins").is_none() {
        let version = network.get("cniVersion").cloned();
        let name = network.get("name").cloned();
        if let Some(conf) = network.as_object_mut() {
            conf.remove("cniVersion");
            conf.remove("name");
        }
        network = json!({ "cniVersion": version, "name": name, "plugins": [network] });
    }
    if !network["name"].is_string() {
        return Err("the CNI network has no `name`".into());
    }
    if !network["cniVersion"].is_string() {
        return Err("the CNI network has no `cniVersion`".into());
    }
    let plugins = network["plugins"].as_array().map_or(&[][..], Vec::as_slice);
    if plugins.is_empty() || plugins.iter().any(|p| !p["type"].is_string()) {
        return Err("every CNI plugin needs a `type`, and there must be one".into());
    }
    Ok(network)
}

fn plugins(network: &Value) -> &[Value] {
    network["plugins"].as_array().map_or(&[], Vec::as_slice)
}

fn find_plugin(path: &[String], kind: &str) -> Option<PathBuf> {
    if kind.is_empty() || kind.contains('/') {
        return None;
    }
    path.iter()
        .map(|dir| Path::new(dir).join(kind))
        .find(|p| p.is_file())
}

/// Where the final ADD result of interface `name` is kept.
fn result_file(runtime_dir: &Path, name: &str) -> PathBuf {
    runtime_dir.join(format!("cni-{name}.json"))
}

/// What every plugin run of one interface shares.
struct Invocation {
    version: Value,
    name: Value,
    path: Vec<String>,
    env: Vec<(&'static str, String)>,
}

impl Invocation {
    fn new(iface: &InterfacePlan, ctx: &AttachContext<'_>) -> Invocation {
        let network = &iface.options["network"];
        let path: Vec<String> = iface.options["path"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect();
        Invocation {
            version: network["cniVersion"].clone(),
            name: network["name"].clone(),
            env: vec![
                // The spec wants an alphanumeric first character; a corral name may start
                // with `_`.
                ("CNI_CONTAINERID", format!("corral-{}", ctx.container)),
                ("CNI_NETNS", ctx.netns_path()),
                ("CNI_IFNAME", iface.name.clone()),
                ("CNI_PATH", path.join(":")),
                // Plugins run iptables and friends.
                (
                    "PATH",
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                ),
            ],
            path,
        }
    }

    /// Runs one plugin with one command; returns its result.
    fn run(
        &self,
        command: &str,
        plugin: &Value,
        previous: Option<&Value>,
    ) -> Result<Value, NetworkError> {
        let kind = plugin["type"].as_str().unwrap_or_default().to_owned();
        let fail = |message: String| NetworkError::Cni {
            plugin: kind.clone(),
            command: command.to_owned(),
            message,
        };
        let program = find_plugin(&self.path, &kind)
            .ok_or_else(|| fail(format!("not found in {}", self.path.join(":"))))?;
        let mut request = plugin.clone();
        request["cniVersion"] = self.version.clone();
        request["name"] = self.name.clone();
        if let Some(previous) = previous {
            request["prevResult"] = previous.clone();
        }
        let mut child = crate::net::unblocked(&mut Command::new(&program))
            .env_clear()
            .env("CNI_COMMAND", command)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run {}: {e}", program.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A plugin that exits without reading is judged by its status below.
            let _ = stdin.write_all(request.to_string().as_bytes());
        }
        let output = child
            .wait_with_output()
            .map_err(|e| fail(format!("cannot wait for {}: {e}", program.display())))?;
        let stdout: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        if !output.status.success() {
            let message = stdout["msg"].as_str().map_or_else(
                || String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                |msg| match stdout["details"].as_str() {
                    Some(details) if !details.is_empty() => format!("{msg}: {details}"),
                    _ => msg.to_owned(),
                },
            );
            let code = stdout["code"]
                .as_u64()
                .map_or_else(String::new, |c| format!(" (code {c})"));
            return Err(fail(format!("{message}{code}")));
        }
        Ok(stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_conf_becomes_a_list() {
        let conf = json!({"cniVersion": "1.0.0", "name": "n", "type": "bridge", "bridge": "b"});
        let list = as_list(conf).unwrap();
        assert_eq!(list["name"], "n");
        assert_eq!(list["plugins"][0]["type"], "bridge");
        assert!(list["plugins"][0].get("name").is_none());
        assert!(as_list(json!({"cniVersion": "1.0.0", "plugins": []})).is_err());
        assert!(as_list(json!({"name": "n", "plugins": [{"type": "x"}]})).is_err());
    }
}
