//! The `debian` template: a Debian rootfs built with debootstrap from the host's own apt
//! sources, set up so that systemd boots to `running` as a container's init, and cached so
//! that the next container of the same release and packages is unpacked in seconds.
//!
//! Template arguments (after `--`):
//!
//! - `--release NAME`: the Debian release (default `bookworm`);
//! - `--packages A,B`: more packages to install (may be repeated);
//! - `--mirror URL`: the archive to use instead of the host's apt sources;
//! - `--root-password PASSWORD`: root's password; without it root is locked, as in LXC's
//!   images, and `corral attach` is the way in;
//! - `--no-cache`: build afresh even when a cached rootfs exists, and replace it.
//!
//! The cache is `$CORRAL_CACHE_DIR/debian` (default `/var/cache/corral/debian`): one tarball
//! per release, architecture, mirror and package set, written to a temporary file and renamed
//! into place, so that an interrupted build never leaves a cache that looks complete.

use std::collections::VecDeque;
use std::env;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Template, TemplateContext, TemplateError, apt_install};

/// The template's name, in errors.
const NAME: &str = "debian";

/// The release built when none is asked for.
const DEFAULT_RELEASE: &str = "bookworm";

/// What the rootfs needs beyond debootstrap's minbase: systemd as init and the D-Bus it
/// talks over, iproute2 and procps to look at the network and the processes, login and
/// passwd for the console's login prompt.
const BASE_PACKAGES: [&str; 7] = [
    "dbus",
    "iproute2",
    "login",
    "passwd",
    "procps",
    "systemd",
    "systemd-sysv",
];

/// Changes whenever [`prepare_base`] changes what a cached rootfs holds, so that caches made
/// by an older corral are not used.
const CACHE_FORMAT: u32 = 1;

/// The cache directory when `CORRAL_CACHE_DIR` is not set.
const DEFAULT_CACHE_DIR: &str = "/var/cache/corral";

/// Where apt reads its sources first.
const APT_SOURCES_LIST: &str = "/etc/apt/sources.list";
/// Where apt reads its sources next, file by file in the order of their names.
const APT_SOURCES_DIR: &str = "/etc/apt/sources.list.d";

/// Where debootstrap keeps one script per release it knows.
const DEBOOTSTRAP_SCRIPTS: &str = "/usr/share/debootstrap/scripts";

/// Flags for writing and reading a cached rootfs: ids as numbers (the host's names for them
/// may differ from the rootfs's), and extended attributes such as file capabilities.
const TAR_FLAGS: [&str; 3] = ["--numeric-owner", "--xattrs", "--xattrs-include=*"];

/// DHCP on eth0 with systemd-networkd, the interface a network driver gives a container.
/// Without an eth0 networkd has nothing to do, and the system is still `running`.
const ETH0_NETWORK: &str = "\
[Match]
Name=eth0

[Network]
DHCP=yes
";

/// Units whose installed links are removed, each for a reason that holds in every container:
///
/// - `systemd-networkd-wait-online`: enabled along with networkd, it waits two minutes for an
///   interface that a container may not have and then fails, leaving the system `degraded`;
/// - `systemd-network-generator`: it turns the kernel command line into network config, and
///   a container sees the host's;
/// - `e2scrub_all.timer`, `e2scrub_reap`: they check and clean up the ext4 LVM snapshots of
///   the host's disks, which are none of a container's business.
const DISABLED_UNITS: [&str; 4] = [
    "systemd-networkd-wait-online.service",
    "systemd-network-generator.service",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
];

/// Units masked so that nothing can start them:
///
/// - udev: the host's udev owns the devices; a container's would act on the host's uevents
///   whenever `/sys` is writable (with the default read-only `/sys` it is skipped anyway);
/// - `systemd-firstboot`: on a first boot it would prompt on the console and hold the boot
///   until someone answers.
const MASKED_UNITS: [&str; 6] = [
    "systemd-udevd.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-firstboot.service",
];

/// How often a running count of debootstrap's per-package steps is reported.
const PACKAGE_REPORT_EVERY: Duration = Duration::from_secs(2);

/// How many of debootstrap's last lines a failure quotes.
const TAIL_LINES: usize = 12;

/// The Debian template.
pub struct Debian;

impl Template for Debian {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "a Debian rootfs (debootstrap from the host's apt sources, cached) booting systemd"
    }

    fn build(&self, ctx: &TemplateContext<'_>) -> Result<toml::Table, TemplateError> {
        let options = Options::parse(ctx.args).map_err(|message| TemplateError::Usage {
            template: NAME.into(),
            message,
        })?;
        let arch = debian_arch(env::consts::ARCH).ok_or_else(|| TemplateError::Command {
            template: NAME.into(),
            message: format!("no Debian architecture for {}", env::consts::ARCH),
        })?;
        let mirror = match &options.mirror {
            Some(mirror) => mirror.clone(),
            None => host_mirror(&options.release)?,
        };
        let packages = options.packages();
        let cache = cache_file(
            &cache_dir(env::var_os("CORRAL_CACHE_DIR")),
            &options.release,
            arch,
            &mirror,
            &packages,
        );
        let progress = ctx.progress;
        if !options.no_cache && cache.is_file() {
            progress(&format!("unpacking the cached rootfs {}", cache.display()));
            unpack(&cache, ctx.rootfs)?;
        } else {
            progress(&format!(
                "building a Debian {} ({arch}) rootfs from {mirror} with debootstrap",
                options.release
            ));
            let started = Instant::now();
            debootstrap(
                ctx.rootfs,
                &options.release,
                arch,
                &mirror,
                &packages,
                progress,
            )?;
            prepare_base(ctx.rootfs)?;
            progress(&format!(
                "built in {}s; saving it to {}",
                started.elapsed().as_secs(),
                cache.display()
            ));
            // A host without a writable cache still gets its container, only not faster
            // next time.
            if let Err(err) = save_cache(ctx.rootfs, &cache) {
                let cause = std::error::Error::source(&err)
                    .map(|s| format!(": {s}"))
                    .unwrap_or_default();
                progress(&format!("warning: the rootfs is not cached: {err}{cause}"));
            }
        }
        personalise(ctx.rootfs, ctx.name, options.root_password.as_deref())?;
        Ok(toml::toml! {
            [init]
            cmd = ["/sbin/init"]

            // systemd halts on SIGRTMIN+3 and reboots through ctrl-alt-del.target on SIGINT.
            [signals]
            halt = "SIGRTMIN+3"
            reboot = "SIGINT"

            // systemd manages the cgroup tree below its own, inside its cgroup namespace.
            [mounts.auto]
            cgroup = "rw"
        })
    }
}

/// The template's arguments.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    /// `--release`.
    release: String,
    /// `--packages`: packages asked for beyond [`BASE_PACKAGES`].
    extra: Vec<String>,
    /// `--mirror`; the host's mirror when absent.
    mirror: Option<String>,
    /// `--root-password`; root stays locked when absent.
    root_password: Option<String>,
    /// `--no-cache`.
    no_cache: bool,
}

/// The arguments, for errors.
const USAGE: &str = "accepted: --release NAME, --packages A,B, --mirror URL, \
                     --root-password PASSWORD, --no-cache";

impl Options {
    /// Parses `--flag VALUE` and `--flag=VALUE` arguments.
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            release: DEFAULT_RELEASE.to_owned(),
            extra: Vec::new(),
            mirror: None,
            root_password: None,
            no_cache: false,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
                _ => (arg.as_str(), None),
            };
            let mut value = || match inline {
                Some(value) => Ok(value.to_owned()),
                None => args
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value")),
            };
            match flag {
                "--release" => {
                    let release = value()?;
                    if !is_release_name(&release) {
                        return Err(format!(
                            "`{release}` is not a release name (examples: bookworm, trixie, stable)"
                        ));
                    }
                    options.release = release;
                }
                "--packages" => {
                    for package in value()?.split(',').map(str::trim) {
                        if !is_package_name(package) {
                            return Err(format!("`{package}` is not a Debian package name"));
                        }
                        options.extra.push(package.to_owned());
                    }
                }
                "--mirror" => {
                    let mirror = value()?;
                    if !is_mirror_url(&mirror) {
                        return Err(format!(
                            "--mirror `{mirror}` is not an http://, https:// or file:/ URL"
                        ));
                    }
                    options.mirror = Some(mirror);
                }
                "--root-password" => {
                    let password = value()?;
                    // chpasswd reads one `user:password` per line.
                    if password.is_empty() || password.contains(['\n', '\r']) {
                        return Err("--root-password must be one non-empty line".into());
                    }
                    options.root_password = Some(password);
                }
                "--no-cache" if inline.is_none() => options.no_cache = true,
                _ => return Err(format!("unknown argument `{arg}` ({USAGE})")),
            }
        }
        Ok(options)
    }

    /// Every package to include, sorted and without duplicates: the cache depends on the
    /// set, not on how it was written.
    fn packages(&self) -> Vec<String> {
        let mut all: Vec<String> = BASE_PACKAGES
            .iter()
            .map(|p| (*p).to_owned())
            .chain(self.extra.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// A release or suite name as debootstrap knows them (`bookworm`, `stable`).
fn is_release_name(name: &str) -> bool {
    name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A package name as Debian policy allows them: two or more of `a-z0-9+-.`, starting with a
/// letter or digit.
fn is_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

/// A URL debootstrap can fetch from.
fn is_mirror_url(url: &str) -> bool {
    ["http://", "https://", "file:/"]
        .iter()
        .any(|scheme| url.len() > scheme.len() && url.starts_with(scheme))
        && !url.contains(char::is_whitespace)
}

/// Debian's name for the architecture Rust calls `arch`.
fn debian_arch(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" => Some("amd64"),
        "aarch64" => Some("arm64"),
        "x86" => Some("i386"),
        "arm" => Some("armhf"),
        "s390x" => Some("s390x"),
        "riscv64" => Some("riscv64"),
        _ => None,
    }
}

/// The host's Debian mirror: the first `deb` source for `release`, or else for the host's own
/// release.
fn host_mirror(release: &str) -> Result<String, TemplateError> {
    let codename = fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| os_release_codename(&text));
    let mut suites = vec![release];
    if let Some(codename) = codename.as_deref().filter(|c| *c != release) {
        suites.push(codename);
    }
    find_mirror(&host_sources(), &suites).ok_or_else(|| TemplateError::Command {
        template: NAME.into(),
        message: format!(
            "no `deb` source for {} in the host's apt sources ({APT_SOURCES_LIST}, \
             {APT_SOURCES_DIR}/): pass --mirror URL",
            suites.join(" or ")
        ),
    })
}

/// `VERSION_CODENAME` from an os-release file.
fn os_release_codename(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix("VERSION_CODENAME="))
        .map(|value| value.trim().trim_matches(['"', '\'']).to_owned())
        .filter(|codename| !codename.is_empty())
}

/// The text of one apt sources file.
#[derive(Debug)]
enum AptSources {
    /// `sources.list` and `*.list`: one `deb URI SUITE COMPONENTS` per line.
    OneLine(String),
    /// `*.sources`: deb822 stanzas.
    Deb822(String),
}

/// The host's apt sources, in the order apt reads them. Unreadable files are skipped: apt
/// would not use them either.
fn host_sources() -> Vec<AptSources> {
    let mut sources: Vec<AptSources> = fs::read_to_string(APT_SOURCES_LIST)
        .ok()
        .map(AptSources::OneLine)
        .into_iter()
        .collect();
    let mut files: Vec<PathBuf> = fs::read_dir(APT_SOURCES_DIR)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for file in files {
        let kind = match file.extension().and_then(|e| e.to_str()) {
            Some("list") => AptSources::OneLine,
            Some("sources") => AptSources::Deb822,
            _ => continue,
        };
        if let Ok(text) = fs::read_to_string(&file) {
            sources.push(kind(text));
        }
    }
    sources
}

/// The URI of the first enabled `deb` source for the first of `suites` that has one.
fn find_mirror(sources: &[AptSources], suites: &[&str]) -> Option<String> {
    suites.iter().find_map(|suite| {
        sources.iter().find_map(|source| match source {
            AptSources::OneLine(text) => one_line_mirror(text, suite),
            AptSources::Deb822(text) => deb822_mirror(text, suite),
        })
    })
}

/// The URI of the first `deb [options] URI SUITE …` line for `suite`.
fn one_line_mirror(text: &str, suite: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        if words.next()? != "deb" {
            return None;
        }
        let mut uri = words.next()?;
        if uri.starts_with('[') {
            // `[arch=amd64 signed-by=…]`: options run to the word that closes the bracket.
            while !uri.ends_with(']') {
                uri = words.next()?;
            }
            uri = words.next()?;
        }
        (words.next()? == suite && is_mirror_url(uri)).then(|| uri.to_owned())
    })
}

/// The first URI of the first enabled deb822 stanza of type `deb` whose suites hold `suite`.
fn deb822_mirror(text: &str, suite: &str) -> Option<String> {
    let mut stanzas: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            stanzas.push(Vec::new());
        } else if line.starts_with([' ', '\t']) {
            // A continuation of the previous field's value.
            if let Some((_, value)) = stanzas.last_mut().and_then(|s| s.last_mut()) {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let (Some((key, value)), Some(stanza)) =
            (line.split_once(':'), stanzas.last_mut())
        {
            stanza.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    stanzas.iter().find_map(|stanza| {
        let field = |key: &str| {
            stanza
                .iter()
                .find(|(k, _)| k == key)
                .map_or("", |(_, v)| v.as_str())
        };
        let wanted = !field("enabled").eq_ignore_ascii_case("no")
            && field("types").split_whitespace().any(|t| t == "deb")
            && field("suites").split_whitespace().any(|s| s == suite);
        if !wanted {
            return None;
        }
        field("uris")
            .split_whitespace()
            .find(|uri| is_mirror_url(uri))
            .map(str::to_owned)
    })
}

/// The directory of cached Debian rootfs tarballs, under `override_dir`
/// (`CORRAL_CACHE_DIR`) when it is set.
fn cache_dir(override_dir: Option<std::ffi::OsString>) -> PathBuf {
    override_dir
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_CACHE_DIR), PathBuf::from)
        .join("debian")
}

/// The cached rootfs for a release, architecture, mirror and (sorted) package set:
/// `<release>-<arch>-<hash>.tar`.
fn cache_file(dir: &Path, release: &str, arch: &str, mirror: &str, packages: &[String]) -> PathBuf {
    let key = format!(
        "{CACHE_FORMAT}\n{release}\n{arch}\n{mirror}\n{}",
        packages.join(",")
    );
    dir.join(format!(
        "{release}-{arch}-{:016x}.tar",
        fnv1a(key.as_bytes())
    ))
}

/// 64-bit FNV-1a: stable across builds and Rust versions, unlike std's hasher, which is what a
/// file name on disk needs. It names caches; it protects nothing.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs debootstrap into `rootfs`, relaying its progress.
fn debootstrap(
    rootfs: &Path,
    release: &str,
    arch: &str,
    mirror: &str,
    packages: &[String],
    progress: &dyn Fn(&str),
) -> Result<(), TemplateError> {
    let installed = || {
        Command::new("debootstrap")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !installed() {
        apt_install(NAME, "debootstrap", progress)?;
    }
    let scripts = Path::new(DEBOOTSTRAP_SCRIPTS);
    if scripts.is_dir() && !scripts.join(release).exists() {
        return Err(TemplateError::Usage {
            template: NAME.into(),
            message: format!(
                "debootstrap does not know the release `{release}` (see {})",
                scripts.display()
            ),
        });
    }
    let io = |action| TemplateError::io(NAME, action, Path::new("debootstrap"));
    // One pipe for stdout and stderr, so that lines arrive in the order they were written.
    let (reader, writer) = io::pipe().map_err(io("create a pipe for"))?;
    let mut child = Command::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--arch={arch}"))
        .arg(format!("--include={}", packages.join(",")))
        .arg(release)
        .arg(rootfs)
        .arg(mirror)
        .stdin(Stdio::null())
        .stdout(writer.try_clone().map_err(io("create a pipe for"))?)
        .stderr(writer)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .spawn()
        .map_err(io("run"))?;
    // The Command, which held the pipe's write ends, is gone: the pipe ends with debootstrap.
    let mut relay = Relay::default();
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end();
                for report in relay.line(line, Instant::now()) {
                    progress(&format!("debootstrap: {report}"));
                }
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line.to_owned());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // Not reading would leave debootstrap blocked on a full pipe.
                let _ = child.kill();
                let _ = child.wait();
                return Err(io("read the output of")(e));
            }
        }
    }
    if let Some(report) = relay.finish() {
        progress(&format!("debootstrap: {report}"));
    }
    let status = child.wait().map_err(io("wait for"))?;
    if status.success() {
        return Ok(());
    }
    let mut message = format!("debootstrap failed ({status}); its last lines:");
    for line in &tail {
        message.push_str("\n  ");
        message.push_str(line);
    }
    // The rootfs goes away with the failed create, and its log with it: quote the log's end.
    let log = fs::read_to_string(rootfs.join("debootstrap/debootstrap.log")).unwrap_or_default();
    let log: Vec<&str> = log.lines().rev().take(TAIL_LINES).collect();
    if !log.is_empty() {
        message.push_str("\nthe end of debootstrap.log:");
        for line in log.iter().rev() {
            message.push_str("\n  ");
            message.push_str(line);
        }
    }
    Err(TemplateError::Command {
        template: NAME.into(),
        message,
    })
}

/// Turns debootstrap's output into progress lines: its phases as they come, and its
/// per-package steps (hundreds of lines) as a running count, at most every
/// [`PACKAGE_REPORT_EVERY`].
#[derive(Debug, Default)]
struct Relay {
    /// The per-package step under way and how many packages it has done.
    step: Option<(String, usize)>,
    /// When the count was last reported.
    reported: Option<Instant>,
}

impl Relay {
    /// The progress lines that `line` gives, at `now`.
    fn line(&mut self, line: &str, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        let Some(message) = line.strip_prefix("I: ") else {
            // Warnings, errors and whatever else: always shown.
            out.extend(self.finish());
            if !line.trim().is_empty() {
                out.push(line.trim().to_owned());
            }
            return out;
        };
        match package_step(message) {
            // Each package is validated right after it is retrieved: one step, not two.
            Some(("Validating", _)) => {}
            Some((verb, package)) => match &mut self.step {
                Some((current, count)) if current == verb => {
                    *count += 1;
                    if self
                        .reported
                        .is_none_or(|at| now.duration_since(at) >= PACKAGE_REPORT_EVERY)
                    {
                        out.push(format!("{verb} packages: {count} ({package})"));
                        self.reported = Some(now);
                    }
                }
                _ => {
                    out.extend(self.finish());
                    out.push(format!("{verb} packages: 1 ({package})"));
                    self.step = Some((verb.to_owned(), 1));
                    self.reported = Some(now);
                }
            },
            None => {
                out.extend(self.finish());
                out.push(message.trim().to_owned());
            }
        }
        out
    }

    /// The total of the per-package step under way, which has ended.
    fn finish(&mut self) -> Option<String> {
        self.reported = None;
        self.step
            .take()
            .map(|(verb, count)| format!("{verb} packages: {count} done"))
    }
}

/// A per-package line of debootstrap (`Retrieving adduser 3.134`, `Extracting bash...`), as
/// its verb and package.
fn package_step(message: &str) -> Option<(&str, &str)> {
    let (verb, rest) = message.split_once(' ')?;
    let rest = rest.trim();
    match verb {
        "Retrieving" | "Validating" => {
            // `NAME VERSION`; `Retrieving Packages` (an index, one word) is a phase.
            let mut words = rest.split_whitespace();
            let package = words.next()?;
            (words.next().is_some() && words.next().is_none()).then_some((verb, package))
        }
        "Extracting" | "Unpacking" | "Configuring" => {
            // `NAME...`; `Unpacking required packages...` (several words) is a phase.
            let package = rest.strip_suffix("...")?;
            (!package.is_empty() && !package.contains(' ')).then_some((verb, package))
        }
        _ => None,
    }
}

/// Makes a fresh debootstrap into the base every container of that key starts from: networkd
/// for eth0, the units a container must not run turned off, apt's downloads dropped.
fn prepare_base(rootfs: &Path) -> Result<(), TemplateError> {
    let io = |action, path: &Path| TemplateError::io(NAME, action, path);
    let network = rootfs.join("etc/systemd/network");
    fs::create_dir_all(&network).map_err(io("create", &network))?;
    let eth0 = network.join("eth0.network");
    fs::write(&eth0, ETH0_NETWORK).map_err(io("write", &eth0))?;
    // systemctl in a chroot edits the unit links offline, following each unit's [Install].
    let systemctl = |args: &[&str]| {
        let mut cmd = Command::new("chroot");
        cmd.arg(rootfs).arg("systemctl").args(args);
        run(&mut cmd, None)
    };
    systemctl(&["enable", "systemd-networkd.service"])?;
    systemctl(&[&["disable"], &DISABLED_UNITS[..]].concat())?;
    systemctl(&[&["mask"], &MASKED_UNITS[..]].concat())?;
    // `/sbin/init` is an absolute link into the rootfs: only a chroot resolves it right.
    run(
        Command::new("chroot")
            .arg(rootfs)
            .args(["test", "-x", "/sbin/init"]),
        None,
    )
    .map_err(|_| TemplateError::Command {
        template: NAME.into(),
        message: "the rootfs has no executable /sbin/init (is systemd-sysv installed?)".into(),
    })?;
    // Downloaded packages and package lists: a third of the rootfs, stale by the time a
    // container is made from the cache; `apt update` fetches fresh lists.
    for dir in [
        "var/cache/apt/archives",
        "var/cache/apt",
        "var/lib/apt/lists",
    ] {
        let dir = rootfs.join(dir);
        for entry in fs::read_dir(&dir).map_err(io("list", &dir))? {
            let path = entry.map_err(io("list", &dir))?.path();
            let keep = path.is_dir() || path.file_name().is_some_and(|n| n == "lock");
            if !keep {
                fs::remove_file(&path).map_err(io("remove", &path))?;
            }
        }
    }
    Ok(())
}

/// Saves `rootfs` as the tarball `file`: written beside it under a temporary name, flushed
/// and renamed, so that `file` is either complete or absent.
fn save_cache(rootfs: &Path, file: &Path) -> Result<(), TemplateError> {
    let io = |action, path: &Path| TemplateError::io(NAME, action, path);
    let dir = file.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir).map_err(io("create", dir))?;
    remove_stale_parts(dir);
    let part = part_file(file, std::process::id());
    let result = run(
        Command::new("tar")
            .arg("--create")
            .arg("--file")
            .arg(&part)
            .args(TAR_FLAGS)
            .arg("--directory")
            .arg(rootfs)
            .arg("."),
        None,
    )
    .and_then(|()| {
        fs::File::open(&part)
            .and_then(|f| f.sync_all())
            .map_err(io("flush", &part))
    })
    .and_then(|()| fs::rename(&part, file).map_err(io("rename", &part)));
    if result.is_err() {
        let _ = fs::remove_file(&part);
    }
    result
}

/// The temporary name under which process `pid` writes `file`.
fn part_file(file: &Path, pid: u32) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_owned();
    name.push(format!(".part-{pid}"));
    file.with_file_name(name)
}

/// Removes the temporary files of builds that were killed while saving a cache: their
/// process is gone.
fn remove_stale_parts(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let pid = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.rsplit_once(".part-"))
            .and_then(|(_, pid)| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !Path::new("/proc").join(pid.to_string()).exists()
        {
            let _ = fs::remove_file(&path);
        }
    }
}

/// Unpacks a cached rootfs into `rootfs`.
fn unpack(file: &Path, rootfs: &Path) -> Result<(), TemplateError> {
    run(
        Command::new("tar")
            .arg("--extract")
            .arg("--file")
            .arg(file)
            .args(TAR_FLAGS)
            .arg("--directory")
            .arg(rootfs),
        None,
    )
    .map_err(|err| match err {
        TemplateError::Command { template, message } => TemplateError::Command {
            template,
            message: format!(
                "cannot unpack the cached rootfs {} (remove it, or pass --no-cache): {message}",
                file.display()
            ),
        },
        other => other,
    })
}

/// What makes a rootfs this container's: its hostname, an empty machine ID that systemd
/// fills at boot (so no two containers share one), and root's password if one was given.
fn personalise(
    rootfs: &Path,
    name: &str,
    root_password: Option<&str>,
) -> Result<(), TemplateError> {
    let io = |action, path: &Path| TemplateError::io(NAME, action, path);
    let hosts = format!(
        "127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n\n\
         ::1\t\tlocalhost ip6-localhost ip6-loopback\n\
         ff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n"
    );
    for (file, content, mode) in [
        ("etc/hostname", format!("{name}\n"), 0o644),
        ("etc/hosts", hosts, 0o644),
        ("etc/machine-id", String::new(), 0o444),
    ] {
        let path = rootfs.join(file);
        fs::write(&path, content).map_err(io("write", &path))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(io("chmod", &path))?;
    }
    // D-Bus keeps a copy of the machine ID made at install time; without it, it reads
    // /etc/machine-id.
    let dbus_id = rootfs.join("var/lib/dbus/machine-id");
    if let Err(e) = fs::remove_file(&dbus_id)
        && e.kind() != io::ErrorKind::NotFound
    {
        return Err(io("remove", &dbus_id)(e));
    }
    if let Some(password) = root_password {
        run(
            Command::new("chroot").arg(rootfs).arg("chpasswd"),
            Some(&format!("root:{password}\n")),
        )?;
    }
    Ok(())
}

/// Runs `cmd` to completion with `input` on its standard input; a failure quotes its
/// standard error.
fn run(cmd: &mut Command, input: Option<&str>) -> Result<(), TemplateError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let io = |action| TemplateError::io(NAME, action, Path::new(&program));
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("run"))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // Dropping stdin at the end of this block closes it: the program sees the end.
        stdin.write_all(input.as_bytes()).map_err(io("write to"))?;
    }
    let output = child.wait_with_output().map_err(io("wait for"))?;
    if output.status.success() {
        return Ok(());
    }
    let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
    Err(TemplateError::Command {
        template: NAME.into(),
        message: format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn defaults_without_arguments() {
        let options = Options::parse(&[]).unwrap();
        assert_eq!(options.release, "bookworm");
        assert_eq!(options.packages(), BASE_PACKAGES);
        assert_eq!(options.mirror, None);
        assert_eq!(options.root_password, None);
        assert!(!options.no_cache);
    }

    #[test]
    fn parses_every_argument_in_both_forms() {
        let options = Options::parse(&args(&[
            "--release",
            "trixie",
            "--packages=vim,curl",
            "--packages",
            "systemd, less",
            "--mirror=http://mirror.example/debian",
            "--root-password",
            "a:b c",
            "--no-cache",
        ]))
        .unwrap();
        assert_eq!(options.release, "trixie");
        assert_eq!(options.extra, ["vim", "curl", "systemd", "less"]);
        assert_eq!(
            options.packages(),
            [
                "curl",
                "dbus",
                "iproute2",
                "less",
                "login",
                "passwd",
                "procps",
                "systemd",
                "systemd-sysv",
                "vim"
            ]
        );
        assert_eq!(
            options.mirror.as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(options.root_password.as_deref(), Some("a:b c"));
        assert!(options.no_cache);
    }

    #[test]
    fn refuses_bad_arguments() {
        for (bad, expected) in [
            (&["--releases", "x"][..], "unknown argument `--releases`"),
            (&["bookworm"], "unknown argument `bookworm`"),
            (&["--no-cache=yes"], "unknown argument `--no-cache=yes`"),
            (&["--release"], "--release needs a value"),
            (&["--release", "../etc"], "not a release name"),
            (&["--release", "Bookworm"], "not a release name"),
            (
                &["--packages", "vim,,curl"],
                "`` is not a Debian package name",
            ),
            (&["--packages", "vim;rm"], "not a Debian package name"),
            (&["--packages", "-x"], "not a Debian package name"),
            (&["--mirror", "ftp://x/debian"], "not an http://"),
            (&["--mirror", "http://"], "not an http://"),
            (&["--root-password", ""], "one non-empty line"),
            (&["--root-password", "a\nb"], "one non-empty line"),
        ] {
            let err = Options::parse(&args(bad)).unwrap_err();
            assert!(err.contains(expected), "{bad:?}: {err}");
        }
    }

    #[test]
    fn mirror_from_deb822_sources() {
        let text = "\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main

Types: deb-src deb
URIs: cdrom:/x http://ftp.example/debian
  http://other.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
";
        let disabled =
            "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n";
        assert_eq!(
            deb822_mirror(text, "bookworm").as_deref(),
            Some("http://ftp.example/debian")
        );
        assert_eq!(deb822_mirror(text, "trixie"), None);
        assert_eq!(deb822_mirror(disabled, "bookworm"), None);
        let sources = [
            AptSources::Deb822(disabled.into()),
            AptSources::Deb822(text.into()),
        ];
        assert_eq!(
            find_mirror(&sources, &["trixie", "bookworm"]).as_deref(),
            Some("http://ftp.example/debian")
        );
    }

    #[test]
    fn mirror_from_one_line_sources() {
        let text = "\
# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] https://mirror.example/debian bookworm main # here
deb [ trusted=yes ] file:/srv/mirror trixie main
";
        assert_eq!(
            one_line_mirror(text, "bookworm").as_deref(),
            Some("https://mirror.example/debian")
        );
        assert_eq!(
            one_line_mirror(text, "trixie").as_deref(),
            Some("file:/srv/mirror")
        );
        assert_eq!(one_line_mirror(text, "sid"), None);
        assert_eq!(one_line_mirror("deb [arch=amd64", "bookworm"), None);
    }

    #[test]
    fn codename_from_os_release() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_CODENAME=bookworm\n";
        assert_eq!(os_release_codename(text).as_deref(), Some("bookworm"));
        assert_eq!(
            os_release_codename("VERSION_CODENAME=\"trixie\"").as_deref(),
            Some("trixie")
        );
        assert_eq!(os_release_codename("VERSION_CODENAME=\n"), None);
        assert_eq!(os_release_codename("ID=debian\n"), None);
    }

    #[test]
    fn cache_key_follows_what_the_rootfs_holds() {
        let dir = Path::new("/cache/debian");
        let base = Options::parse(&[]).unwrap().packages();
        let file = cache_file(dir, "bookworm", "amd64", "http://m/debian", &base);
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("bookworm-amd64-") && name.ends_with(".tar"),
            "{name}"
        );
        assert_eq!(file.parent(), Some(dir));
        // The same set, written differently: the same cache.
        let again = Options::parse(&args(&["--packages", "systemd,dbus"]))
            .unwrap()
            .packages();
        assert_eq!(
            cache_file(dir, "bookworm", "amd64", "http://m/debian", &again),
            file
        );
        let vim = Options::parse(&args(&["--packages", "vim"]))
            .unwrap()
            .packages();
        for other in [
            cache_file(dir, "bookworm", "amd64", "http://m/debian", &vim),
            cache_file(dir, "trixie", "amd64", "http://m/debian", &base),
            cache_file(dir, "bookworm", "arm64", "http://m/debian", &base),
            cache_file(dir, "bookworm", "amd64", "http://n/debian", &base),
        ] {
            assert_ne!(other, file);
        }
        // Stable across builds: a cache written by one corral is found by the next.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn cache_dir_honours_the_override() {
        assert_eq!(cache_dir(None), Path::new("/var/cache/corral/debian"));
        assert_eq!(
            cache_dir(Some("".into())),
            Path::new("/var/cache/corral/debian")
        );
        assert_eq!(cache_dir(Some("/tmp/c".into())), Path::new("/tmp/c/debian"));
    }

    #[test]
    fn part_files_are_named_after_their_writer() {
        let file = Path::new("/c/debian/bookworm-amd64-00.tar");
        assert_eq!(
            part_file(file, 42),
            Path::new("/c/debian/bookworm-amd64-00.tar.part-42")
        );
    }

    #[test]
    fn stale_part_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let live = part_file(&dir.path().join("a.tar"), std::process::id());
        // PID_MAX_LIMIT is 2^22: this process cannot exist.
        let dead = part_file(&dir.path().join("a.tar"), 1 << 23);
        let cache = dir.path().join("a.tar");
        for f in [&live, &dead, &cache] {
            fs::write(f, "").unwrap();
        }
        remove_stale_parts(dir.path());
        assert!(live.exists() && cache.exists());
        assert!(!dead.exists());
    }

    #[test]
    fn architectures() {
        assert_eq!(debian_arch("x86_64"), Some("amd64"));
        assert_eq!(debian_arch("aarch64"), Some("arm64"));
        assert_eq!(debian_arch("sparc"), None);
    }

    #[test]
    fn relays_phases_and_counts_packages() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut relay = Relay::default();
        let mut lines = Vec::new();
        for (line, ms) in [
            ("I: Retrieving InRelease ", 0),
            ("I: Retrieving adduser 3.134", 10),
            ("I: Validating adduser 3.134", 20),
            ("I: Retrieving apt 2.6.1", 30),
            ("I: Validating apt 2.6.1", 40),
            ("I: Retrieving bash 5.2.15-2+b13", 2500),
            ("I: Retrieving dash 0.5.12-2", 2600),
            ("I: Chosen extractor for .deb packages: dpkg-deb", 2700),
            ("I: Extracting adduser...", 2800),
            ("I: Unpacking required packages...", 2900),
            ("I: Unpacking bash:amd64...", 3000),
            ("W: Failure trying to run: chroot /x dpkg", 3100),
            ("", 3200),
        ] {
            lines.extend(relay.line(line, at(ms)));
        }
        lines.extend(relay.finish());
        assert_eq!(
            lines,
            [
                "Retrieving InRelease",
                "Retrieving packages: 1 (adduser)",
                "Retrieving packages: 3 (bash)",
                "Retrieving packages: 4 done",
                "Chosen extractor for .deb packages: dpkg-deb",
                "Extracting packages: 1 (adduser)",
                "Extracting packages: 1 done",
                "Unpacking required packages...",
                "Unpacking packages: 1 (bash:amd64)",
                "Unpacking packages: 1 done",
                "W: Failure trying to run: chroot /x dpkg",
            ]
        );
    }

    #[test]
    fn package_steps() {
        assert_eq!(
            package_step("Retrieving libc6 2.36-9"),
            Some(("Retrieving", "libc6"))
        );
        assert_eq!(package_step("Retrieving Packages "), None);
        assert_eq!(
            package_step("Configuring libc-bin..."),
            Some(("Configuring", "libc-bin"))
        );
        assert_eq!(package_step("Configuring required packages..."), None);
        assert_eq!(package_step("Base system installed successfully."), None);
    }
}
