//! Resource limits (`lxc.prlimit.*`), set in init and inherited by the program.

use corral_hooks::Rlimit;
use nix::sys::resource::{Resource, setrlimit};

use crate::config::RlimitValue;
use crate::stages::{Op, OpError, PlanError};

/// LXC's resource names and the kernel's resources.
const RESOURCES: [(&str, Resource); 16] = [
    ("as", Resource::RLIMIT_AS),
    ("core", Resource::RLIMIT_CORE),
    ("cpu", Resource::RLIMIT_CPU),
    ("data", Resource::RLIMIT_DATA),
    ("fsize", Resource::RLIMIT_FSIZE),
    ("locks", Resource::RLIMIT_LOCKS),
    ("memlock", Resource::RLIMIT_MEMLOCK),
    ("msgqueue", Resource::RLIMIT_MSGQUEUE),
    ("nice", Resource::RLIMIT_NICE),
    ("nofile", Resource::RLIMIT_NOFILE),
    ("nproc", Resource::RLIMIT_NPROC),
    ("rss", Resource::RLIMIT_RSS),
    ("rtprio", Resource::RLIMIT_RTPRIO),
    ("rttime", Resource::RLIMIT_RTTIME),
    ("sigpending", Resource::RLIMIT_SIGPENDING),
    ("stack", Resource::RLIMIT_STACK),
];

fn resource(name: &str) -> Option<Resource> {
    RESOURCES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// `unlimited` or a number.
fn limit(text: &str) -> Option<Option<u64>> {
    match text.trim() {
        "unlimited" | "infinity" => Some(None),
        n => n.parse().ok().map(Some),
    }
}

/// Plans the config's limits: `soft:hard`, one value for both, or `unlimited`.
pub fn plan(
    config: &std::collections::BTreeMap<String, RlimitValue>,
) -> Result<Vec<Rlimit>, PlanError> {
    config
        .iter()
        .map(|(name, value)| {
            let key = format!("security.rlimits.{name}");
            if resource(name).is_none() {
                return Err(PlanError::new(
                    key,
                    format!("`{name}` is not a resource limit"),
                ));
            }
            let (soft, hard) = match value {
                RlimitValue::Number(n) => (Some(*n), Some(*n)),
                RlimitValue::Text(text) => {
                    let (soft, hard) = text.split_once(':').unwrap_or((text, text));
                    match (limit(soft), limit(hard)) {
                        (Some(s), Some(h)) => (s, h),
                        _ => {
                            return Err(PlanError::new(
                                key,
                                format!("`{text}` is not a limit (1024, 1024:4096, unlimited)"),
                            ));
                        }
                    }
                }
            };
            if let (Some(s), Some(h)) = (soft, hard)
                && s > h
            {
                return Err(PlanError::new(
                    key,
                    format!("soft limit {s} is above hard limit {h}"),
                ));
            }
            if soft.is_none() && hard.is_some() {
                return Err(PlanError::new(
                    key,
                    "an unlimited soft limit needs an unlimited hard one",
                ));
            }
            Ok(Rlimit {
                resource: name.clone(),
                soft,
                hard,
            })
        })
        .collect()
}

/// Sets the limits. Raising a hard limit needs `CAP_SYS_RESOURCE`.
pub fn apply(limits: &[Rlimit]) -> Result<(), OpError> {
    for l in limits {
        let resource = resource(&l.resource).ok_or(OpError {
            operation: format!("unknown resource limit {}", l.resource),
            errno: libc::EINVAL,
        })?;
        let value = |v: Option<u64>| v.unwrap_or(libc::RLIM_INFINITY);
        setrlimit(resource, value(l.soft), value(l.hard))
            .op(|| format!("set the {} limit", l.resource))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_as_lxc_writes_them() {
        let config = [
            ("nofile", RlimitValue::Text("1024:4096".into())),
            ("core", RlimitValue::Number(0)),
            ("stack", RlimitValue::Text("unlimited".into())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let planned = plan(&config).unwrap();
        assert_eq!(planned[0].resource, "core");
        assert_eq!((planned[1].soft, planned[1].hard), (Some(1024), Some(4096)));
        assert_eq!((planned[2].soft, planned[2].hard), (None, None));
        for (name, text) in [("nofile", "4096:1024"), ("nofile", "lots"), ("files", "1")] {
            let config = [(name.to_owned(), RlimitValue::Text(text.into()))].into();
            assert!(plan(&config).is_err(), "{name} = {text}");
        }
    }
}
