//! `corral plugins`: what is installed, with versions and what each provides.

use std::io::Write;

use corral::container::Corral;
use corral::plugins;

/// Lists every library in the plugin directories; one that does not load is listed with why.
pub fn list(corral: &Corral, out: &mut dyn Write) -> anyhow::Result<()> {
    let dirs = plugins::dirs(&corral.global.plugins);
    let installed = plugins::installed(&dirs);
    if installed.is_empty() {
        let dirs: Vec<_> = dirs.iter().map(|d| d.display().to_string()).collect();
        writeln!(out, "no plugins in {}", dirs.join(":"))?;
        return Ok(());
    }
    writeln!(out, "{:<16} {:<9} PROVIDES", "NAME", "VERSION")?;
    for (path, plugin) in installed {
        match plugin {
            Ok(p) => {
                let info = &p.info;
                let mut provides = Vec::new();
                let kinds = [
                    ("template", &info.templates),
                    ("driver", &info.drivers),
                    ("policy", &info.policies),
                ];
                for (kind, names) in kinds {
                    provides.extend(names.iter().map(|n| format!("{kind}:{n}")));
                }
                if info.hooks {
                    provides.push("hooks".to_owned());
                }
                writeln!(
                    out,
                    "{:<16} {:<9} {}",
                    info.name,
                    info.version,
                    provides.join(" ")
                )?;
            }
            Err(e) => writeln!(
                out,
                "{:<16} {:<9} broken: {}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                "-",
                corral::error_chain(&e)
            )?,
        }
    }
    Ok(())
}
