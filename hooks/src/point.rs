//! The hook points: where in a container's life hooks run, and what each may do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Stage;

/// A point in a container's life at which hooks run.
///
/// Hooks run in the monitor (`corral start`, `corral execute`) or, for [`HookPoint::Create`],
/// [`HookPoint::Clone`] and [`HookPoint::Destroy`], in the CLI; never in the container's
/// cloned init. At each point the configured hooks run in the config's order, each with a
/// timeout. In a start they fire in the order of [`HookPoint::START`].
///
/// | point | runs | sees | may change | a failure |
/// |---|---|---|---|---|
/// | `create` | CLI, after the template and the config are written | name, paths | nothing | removes the new container |
/// | `pre-start` | monitor, before any plan is applied | the full plan | nothing | aborts the start |
/// | `before-STAGE` | monitor, before the stage applies (for `namespaces`, before init is cloned); also in `corral plan` with `dry_run` | the full plan, earlier stages applied, the init PID once cloned | the stage's own part of the plan | aborts the start, undoing earlier stages |
/// | `after-STAGE` | monitor, after the stage applied (init answered) | the plan as applied, the init PID | nothing | aborts the start, undoing everything |
/// | `start-host` | monitor, every stage applied, before the exec gate | the plan, the init PID | nothing | aborts the start |
/// | `start` | monitor, right before the exec gate; programs run inside the container's namespaces | the plan, the init PID | nothing | aborts the start |
/// | `stop` | monitor, after the program ended, before teardown | the plan, `target` | nothing | logged |
/// | `post-stop` | monitor, after teardown | the plan, `target` | nothing | logged |
/// | `clone` | CLI, after a copy (no `clone` command yet: it never fires) | name, paths | nothing | aborts the clone |
/// | `destroy` | CLI, before the container's directory is removed | name, paths | nothing | aborts the destroy |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookPoint {
    /// Before a stage applies its plan.
    Before(Stage),
    /// After a stage applied its plan.
    After(Stage),
    /// `corral create`, once the rootfs and config exist.
    Create,
    /// The start of a start, before anything is applied.
    PreStart,
    /// On the host, with init set up and about to exec.
    StartHost,
    /// Right before the container's program is executed.
    Start,
    /// The program ended, before teardown.
    Stop,
    /// After teardown.
    PostStop,
    /// After a container was copied.
    Clone,
    /// Before a container is removed.
    Destroy,
}

impl HookPoint {
    /// The points a start fires, in order; [`HookPoint::Stop`] and [`HookPoint::PostStop`]
    /// follow when the container ends.
    pub const START: [HookPoint; 13] = [
        HookPoint::PreStart,
        HookPoint::Before(Stage::Namespaces),
        HookPoint::After(Stage::Namespaces),
        HookPoint::Before(Stage::Mounts),
        HookPoint::After(Stage::Mounts),
        HookPoint::Before(Stage::Network),
        HookPoint::After(Stage::Network),
        HookPoint::Before(Stage::Security),
        HookPoint::After(Stage::Security),
        HookPoint::Before(Stage::Cgroups),
        HookPoint::After(Stage::Cgroups),
        HookPoint::StartHost,
        HookPoint::Start,
    ];

    /// Every point.
    pub const ALL: [HookPoint; 18] = [
        HookPoint::Create,
        HookPoint::PreStart,
        HookPoint::Before(Stage::Namespaces),
        HookPoint::After(Stage::Namespaces),
        HookPoint::Before(Stage::Mounts),
        HookPoint::After(Stage::Mounts),
        HookPoint::Before(Stage::Network),
        HookPoint::After(Stage::Network),
        HookPoint::Before(Stage::Security),
        HookPoint::After(Stage::Security),
        HookPoint::Before(Stage::Cgroups),
        HookPoint::After(Stage::Cgroups),
        HookPoint::StartHost,
        HookPoint::Start,
        HookPoint::Stop,
        HookPoint::PostStop,
        HookPoint::Clone,
        HookPoint::Destroy,
    ];

    /// The point's name in configs, in `LXC_HOOK_TYPE` and as a Python function name (with
    /// `_` for `-`): `before-cgroups`, `pre-start`.
    pub fn name(self) -> &'static str {
        const BEFORE: [&str; 5] = [
            "before-namespaces",
            "before-mounts",
            "before-network",
            "before-security",
            "before-cgroups",
        ];
        const AFTER: [&str; 5] = [
            "after-namespaces",
            "after-mounts",
            "after-network",
            "after-security",
            "after-cgroups",
        ];
        match self {
            HookPoint::Before(s) => BEFORE[s as usize],
            HookPoint::After(s) => AFTER[s as usize],
            HookPoint::Create => "create",
            HookPoint::PreStart => "pre-start",
            HookPoint::StartHost => "start-host",
            HookPoint::Start => "start",
            HookPoint::Stop => "stop",
            HookPoint::PostStop => "post-stop",
            HookPoint::Clone => "clone",
            HookPoint::Destroy => "destroy",
        }
    }

    /// A small number unique to the point, below 32, for sets of points as bit masks.
    pub fn index(self) -> u32 {
        match self {
            HookPoint::Before(s) => s as u32,
            HookPoint::After(s) => 5 + s as u32,
            HookPoint::Create => 10,
            HookPoint::PreStart => 11,
            HookPoint::StartHost => 12,
            HookPoint::Start => 13,
            HookPoint::Stop => 14,
            HookPoint::PostStop => 15,
            HookPoint::Clone => 16,
            HookPoint::Destroy => 17,
        }
    }

    /// The section LXC gives the point in `LXC_HOOK_SECTION`.
    pub fn section(self) -> &'static str {
        match self {
            HookPoint::Before(_) | HookPoint::After(_) => "stage",
            _ => "lxc",
        }
    }
}

impl fmt::Display for HookPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no hook point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownHookPoint(pub String);

impl fmt::Display for UnknownHookPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = HookPoint::ALL.iter().map(|p| p.name()).collect();
        write!(
            f,
            "unknown hook point `{}` (one of {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownHookPoint {}

impl FromStr for HookPoint {
    type Err = UnknownHookPoint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.replace('_', "-");
        HookPoint::ALL
            .into_iter()
            .find(|p| p.name() == wanted)
            .ok_or_else(|| UnknownHookPoint(s.to_owned()))
    }
}

impl Serialize for HookPoint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for HookPoint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_indices_are_unique() {
        let mut seen = 0u32;
        for point in HookPoint::ALL {
            assert_eq!(point.name().parse::<HookPoint>(), Ok(point));
            assert_eq!(seen & (1 << point.index()), 0, "{point}");
            seen |= 1 << point.index();
        }
        assert_eq!(
            "before_cgroups".parse(),
            Ok(HookPoint::Before(Stage::Cgroups))
        );
        assert!("during-mounts".parse::<HookPoint>().is_err());
    }
}
