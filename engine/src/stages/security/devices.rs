//! Device rules in LXC's words (`deny a`, `allow c 1:3 rwm`, `allow c 136:* rwm`), planned
//! here and enforced by the cgroups stage (`stages::cgroups::devices`).

use corral_hooks::{DeviceKind, DeviceRule};

use crate::stages::PlanError;

/// Parses one rule; `None` when it is malformed.
fn parse(text: &str) -> Option<DeviceRule> {
    let mut words = text.split_whitespace();
    let allow = match words.next()? {
        "allow" => true,
        "deny" => false,
        _ => return None,
    };
    let kind = match words.next()? {
        "a" => DeviceKind::All,
        "c" => DeviceKind::Char,
        "b" => DeviceKind::Block,
        _ => return None,
    };
    let number = |s: &str| match s {
        "*" => Some(None),
        n => n.parse().ok().map(Some),
    };
    let (major, minor, access) = match (kind, words.next()) {
        (DeviceKind::All, None) => (None, None, "rwm".to_owned()),
        (_, Some(numbers)) => {
            let (major, minor) = numbers.split_once(':')?;
            let access = words.next().unwrap_or("rwm");
            if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
                return None;
            }
            (number(major)?, number(minor)?, access.to_owned())
        }
        (_, None) => return None,
    };
    if words.next().is_some() {
        return None;
    }
    Some(DeviceRule {
        allow,
        kind,
        major,
        minor,
        access,
    })
}

/// Plans the config's rules, in order.
pub fn plan(rules: &[String]) -> Result<Vec<DeviceRule>, PlanError> {
    rules
        .iter()
        .enumerate()
        .map(|(i, text)| {
            parse(text).ok_or_else(|| {
                PlanError::new(
                    format!("security.devices[{i}]"),
                    format!("`{text}` is not a device rule (`deny a`, `allow c 1:3 rwm`)"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_as_lxc_writes_them() {
        let rules = plan(&[
            "deny a".into(),
            "allow c 136:* rw".into(),
            "allow b *:* m".into(),
        ])
        .unwrap();
        assert_eq!(
            rules[0],
            DeviceRule {
                allow: false,
                kind: DeviceKind::All,
                major: None,
                minor: None,
                access: "rwm".into()
            }
        );
        assert_eq!(
            (rules[1].major, rules[1].minor, rules[1].access.as_str()),
            (Some(136), None, "rw")
        );
        assert_eq!(rules[2].kind, DeviceKind::Block);
        for bad in [
            "permit a",
            "allow x 1:3",
            "allow c 1-3 rwm",
            "allow c 1:3 rwx",
            "allow c",
        ] {
            assert!(plan(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
