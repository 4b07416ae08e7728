//! A plugin for corral's tests. Its hook takes arguments:
//!
//! - `log=FILE`: append `POINT pid=PID applied=N plan=yes|no` to FILE at every call;
//! - `fail=POINT`, `panic=POINT`, `refuse=POINT`, `hang=POINT`: misbehave there;
//! - `memory=BYTES`: set the memory limit at `before-cgroups`;
//! - `cgroup=SUFFIX`: move the cgroup at `before-cgroups`, appending SUFFIX to its path.

use std::io::Write;

use corral_plugin::hooks::{HookOutcome, HookPoint, Stage};
use corral_plugin::{HookCall, Info, Plugin, export_plugin};

#[derive(Default)]
struct TestHooks;

impl Plugin for TestHooks {
    fn info(&self) -> Info {
        Info {
            name: "testhooks".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "logs hooks; fails on request".into(),
            hooks: true,
            ..Info::default()
        }
    }

    fn hook(&self, call: &HookCall, args: &[String]) -> Result<HookOutcome, String> {
        let ctx = &call.context;
        let point = ctx.point.name();
        let mut outcome = HookOutcome::Continue;
        for arg in args {
            let (key, value) = arg.split_once('=').unwrap_or((arg, ""));
            match key {
                "log" => {
                    let mut file = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(value)
                        .map_err(|e| format!("{value}: {e}"))?;
                    let plan = call.plan()?;
                    writeln!(
                        file,
                        "{point} pid={} applied={} plan={} memory={}",
                        ctx.pid.is_some(),
                        ctx.applied.len(),
                        if plan.is_some() { "yes" } else { "no" },
                        plan.and_then(|p| p.cgroups.limits.memory)
                            .map_or_else(|| "none".to_owned(), |m| m.to_string())
                    )
                    .map_err(|e| e.to_string())?;
                }
                "fail" if value == point => return Err(format!("asked to fail at {point}")),
                "refuse" if value == point => {
                    return Ok(HookOutcome::Refuse {
                        reason: format!("refused at {point}"),
                    });
                }
                "panic" if value == point => panic!("asked to panic at {point}"),
                "hang" if value == point => loop {
                    std::thread::park();
                },
                "memory" | "cgroup" if ctx.point == HookPoint::Before(Stage::Cgroups) => {
                    // Each change builds on the ones before it.
                    let mut plan = match outcome {
                        HookOutcome::Change { plan } => *plan,
                        _ => call.plan()?.cloned().ok_or("no plan")?,
                    };
                    if key == "memory" {
                        plan.cgroups.limits.memory = Some(value.parse().map_err(|_| "bad memory")?);
                    } else {
                        plan.cgroups.path.push_str(value);
                    }
                    outcome = HookOutcome::Change {
                        plan: Box::new(plan),
                    };
                }
                _ => {}
            }
        }
        Ok(outcome)
    }
}

export_plugin!(TestHooks);
