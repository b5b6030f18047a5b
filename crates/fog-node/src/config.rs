//! Node configuration: one TOML file with a default for every field, overridden by `FOG_*`
//! environment variables, overridden by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default address of the HTTP API.
pub const DEFAULT_API_ADDR: &str = "127.0.0.1:7420";
/// Default listen address of the mesh.
pub const DEFAULT_MESH_LISTEN: &str = "/ip4/0.0.0.0/tcp/7421";
/// Config file name inside the config directory.
pub const CONFIG_FILE: &str = "fog.toml";

/// What can be wrong with the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{name}={value:?} is not a valid {what}")]
    BadValue { name: String, value: String, what: &'static str },
    #[error("the API address {addr} is not a loopback address; binding to it exposes the node to the network, so it needs --allow-remote-api (or FOG_ALLOW_REMOTE_API=1)")]
    RemoteApiNotAllowed { addr: SocketAddr },
    #[error("no home directory found to put data in; pass --data-dir or set FOG_DATA_DIR")]
    NoDataDir,
}

/// The node's configuration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the key, database, token and logs live.
    pub data_dir: PathBuf,
    pub api: ApiConfig,
    pub mesh: MeshSettings,
    pub idle: IdleConfig,
    pub bitchat: BitchatConfig,
    pub betanet: BetanetSection,
    pub log: LogConfig,
    /// The file this configuration was read from, if any.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
}

/// The HTTP API.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Serve the HTTP API at all.
    pub enabled: bool,
    /// Listen address; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Allow a non-loopback listen address.
    pub allow_remote: bool,
}

/// The libp2p mesh between nodes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MeshSettings {
    /// Run the mesh at all.
    pub enabled: bool,
    /// Multiaddrs to listen on. The default takes every interface, so peers on the LAN can reach
    /// this node; nothing is dialled or announced unless bootstrap peers are configured.
    pub listen: Vec<String>,
    /// Multiaddrs of peers to dial at start (none by default: no public bootstrap peers).
    pub bootstrap: Vec<String>,
    /// Find peers on the local network with mDNS. Off by default: it sends multicast.
    pub lan_discovery: bool,
}

impl Default for MeshSettings {
    fn default() -> Self {
        Self { enabled: true, listen: vec![DEFAULT_MESH_LISTEN.into()], bootstrap: vec![], lan_discovery: false }
    }
}

/// Idle-compute harvesting. What to donate and when is in the harvest settings (stored in the
/// database and edited on the Idle page or with `fog idle settings`), not here.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IdleConfig {
    /// Run the harvester at all: sample the device and run donated jobs when the policy allows.
    pub enabled: bool,
}

impl Default for IdleConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// BitChat, the Bluetooth LE mesh chat.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BitchatConfig {
    /// Run BitChat at all.
    pub enabled: bool,
    /// Nickname at first start (later changed on the Chat page, and kept in the database).
    pub nickname: Option<String>,
    /// The Bluetooth adapter to use, e.g. `hci1`; the first one if unset.
    pub adapter: Option<String>,
    /// `both` (default: scan and advertise, as the apps do), `central` or `peripheral`.
    pub roles: fog_bitchat::transport::ble::Roles,
    /// Chat over a simulated radio on loopback UDP instead of Bluetooth, for testnets on one
    /// machine (`fog testnet --simulated-radio`). Never on unless set.
    pub simulated_radio: Option<SimulatedRadio>,
}

impl Default for BitchatConfig {
    fn default() -> Self {
        Self { enabled: true, nickname: None, adapter: None, roles: Default::default(), simulated_radio: None }
    }
}

/// Betanet, the mixnet. Every node with the mesh is a client and can receive; a deployed node
/// (`mixnode = true`, or `fog mix deploy`) also mixes. The defaults follow Nym's spirit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BetanetSection {
    pub enabled: bool,
    /// Mix from the start.
    pub mixnode: bool,
    /// `kem` (one key exchange a hop) or `sphinx` (classic re-blinding). Every node of a
    /// Betanet must use the same mode and epoch length.
    pub key_mode: fog_mixnet::sphinx::KeyMode,
    /// Sphinx keys rotate every epoch.
    pub epoch_secs: u32,
    /// A retired epoch's key is still accepted this long.
    pub grace_secs: u32,
    /// Packets a second this mixnode offers; the replay filter is sized for it.
    pub capacity: u32,
    /// Packets held for their delay at most; more are dropped as "queue full".
    pub max_queue: usize,
    /// The descriptor is republished this often (and counts as stale after 4.5 times it).
    pub publish_every_secs: u32,
    /// Mean gap of the client's main stream (real or drop cover), ms.
    pub send_interval_ms: f64,
    /// Mean gap of loop cover, ms.
    pub loop_interval_ms: f64,
    /// Mean delay at each mixnode, ms.
    pub mix_delay_ms: f64,
}

impl Default for BetanetSection {
    fn default() -> Self {
        Self {
            enabled: true,
            mixnode: false,
            key_mode: fog_mixnet::sphinx::KeyMode::Kem,
            epoch_secs: 3600,
            grace_secs: 300,
            capacity: 2000,
            max_queue: 100_000,
            publish_every_secs: 30,
            send_interval_ms: 20.0,
            loop_interval_ms: 200.0,
            mix_delay_ms: 50.0,
        }
    }
}

/// The loopback radio: this node's UDP address and its neighbours' (all on 127.0.0.1).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimulatedRadio {
    pub listen: SocketAddr,
    pub neighbours: Vec<SocketAddr>,
}

/// Logging.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Filter in tracing's syntax, e.g. `info` or `info,fog_node=debug`.
    pub level: String,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { enabled: true, addr: DEFAULT_API_ADDR.parse().expect("valid default address"), allow_remote: false }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into() }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir().unwrap_or_default(),
            api: ApiConfig::default(),
            mesh: MeshSettings::default(),
            idle: IdleConfig::default(),
            bitchat: BitchatConfig::default(),
            betanet: BetanetSection::default(),
            log: LogConfig::default(),
            config_file: None,
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers' value.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub api_addr: Option<SocketAddr>,
    pub allow_remote_api: bool,
    pub log_level: Option<String>,
    pub mesh_listen: Option<Vec<String>>,
    pub mesh_bootstrap: Option<Vec<String>>,
    pub lan_discovery: bool,
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("org", "Fog Compute", "fog-compute")
}

/// `~/.local/share/fog-compute` on Linux.
pub fn default_data_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.data_dir().to_owned())
}

/// `~/.config/fog-compute/fog.toml` on Linux.
pub fn default_config_file() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join(CONFIG_FILE))
}

impl Config {
    /// Loads from the real environment.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_with(overrides, |name| std::env::var(name).ok(), default_config_file())
    }

    /// Loads with an injected environment, for tests.
    pub fn load_with(
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
        default_file: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let explicit = overrides.config_file.clone().or_else(|| env("FOG_CONFIG").map(PathBuf::from));
        let mut config = match (&explicit, &default_file) {
            (Some(path), _) => Self::from_file(path)?,
            (None, Some(path)) if path.exists() => Self::from_file(path)?,
            _ => Self::default(),
        };
        if let Some(dir) = env("FOG_DATA_DIR") {
            config.data_dir = dir.into();
        }
        if let Some(addr) = env("FOG_API_ADDR") {
            config.api.addr = parse_env("FOG_API_ADDR", &addr, "socket address such as 127.0.0.1:7420")?;
        }
        if let Some(level) = env("FOG_LOG") {
            config.log.level = level;
        }
        if let Some(listen) = env("FOG_MESH_LISTEN") {
            config.mesh.listen = split_list(&listen);
        }
        if let Some(bootstrap) = env("FOG_MESH_BOOTSTRAP") {
            config.mesh.bootstrap = split_list(&bootstrap);
        }
        if let Some(flag) = env("FOG_MESH") {
            config.mesh.enabled = parse_bool("FOG_MESH", &flag)?;
        }
        if let Some(flag) = env("FOG_LAN_DISCOVERY") {
            config.mesh.lan_discovery = parse_bool("FOG_LAN_DISCOVERY", &flag)?;
        }
        if let Some(flag) = env("FOG_IDLE") {
            config.idle.enabled = parse_bool("FOG_IDLE", &flag)?;
        }
        if let Some(flag) = env("FOG_BITCHAT") {
            config.bitchat.enabled = parse_bool("FOG_BITCHAT", &flag)?;
        }
        if let Some(flag) = env("FOG_BETANET") {
            config.betanet.enabled = parse_bool("FOG_BETANET", &flag)?;
        }
        if let Some(flag) = env("FOG_BETANET_MIXNODE") {
            config.betanet.mixnode = parse_bool("FOG_BETANET_MIXNODE", &flag)?;
        }
        if let Some(flag) = env("FOG_ALLOW_REMOTE_API") {
            config.api.allow_remote = parse_bool("FOG_ALLOW_REMOTE_API", &flag)?;
        }
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(addr) = overrides.api_addr {
            config.api.addr = addr;
        }
        if let Some(level) = &overrides.log_level {
            config.log.level = level.clone();
        }
        if let Some(listen) = &overrides.mesh_listen {
            config.mesh.listen = listen.clone();
        }
        if let Some(bootstrap) = &overrides.mesh_bootstrap {
            config.mesh.bootstrap = bootstrap.clone();
        }
        config.api.allow_remote |= overrides.allow_remote_api;
        config.mesh.lan_discovery |= overrides.lan_discovery;
        config.validate()?;
        Ok(config)
    }

    /// Reads a config file; every absent field keeps its default.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let mut config: Self =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })?;
        config.config_file = Some(path.to_owned());
        Ok(config)
    }

    /// Checks the combination of values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::NoDataDir);
        }
        if self.api.enabled && !self.api.addr.ip().is_loopback() && !self.api.allow_remote {
            return Err(ConfigError::RemoteApiNotAllowed { addr: self.api.addr });
        }
        for addr in self.mesh.listen.iter().chain(&self.mesh.bootstrap) {
            fog_mesh::parse_addr(addr).map_err(|_| ConfigError::BadValue {
                name: "mesh address".into(),
                value: addr.clone(),
                what: "multiaddr such as /ip4/127.0.0.1/tcp/7421",
            })?;
        }
        if let Some(radio) = &self.bitchat.simulated_radio {
            if let Some(addr) = std::iter::once(&radio.listen).chain(&radio.neighbours).find(|a| !a.ip().is_loopback())
            {
                return Err(ConfigError::BadValue {
                    name: "bitchat.simulated_radio address".into(),
                    value: addr.to_string(),
                    what: "loopback address such as 127.0.0.1:7701 (the simulated radio never leaves this machine)",
                });
            }
        }
        let betanet = &self.betanet;
        let bad =
            |name: &str, value: String, what: &'static str| ConfigError::BadValue { name: name.into(), value, what };
        if betanet.epoch_secs < 2 || betanet.grace_secs >= betanet.epoch_secs {
            return Err(bad(
                "betanet.grace_secs",
                betanet.grace_secs.to_string(),
                "number of seconds below betanet.epoch_secs (which must be at least 2)",
            ));
        }
        for (name, value) in [
            ("betanet.send_interval_ms", betanet.send_interval_ms),
            ("betanet.loop_interval_ms", betanet.loop_interval_ms),
            ("betanet.mix_delay_ms", betanet.mix_delay_ms),
        ] {
            if !(value.is_finite() && value > 0.0 && value <= 3_600_000.0) {
                return Err(bad(name, value.to_string(), "number of milliseconds above 0"));
            }
        }
        if betanet.capacity == 0
            || betanet.capacity > 100_000
            || betanet.max_queue == 0
            || betanet.publish_every_secs == 0
        {
            return Err(bad(
                "betanet capacity, max_queue or publish_every_secs",
                format!("{} / {} / {}", betanet.capacity, betanet.max_queue, betanet.publish_every_secs),
                "positive numbers (capacity at most 100000 packets/s)",
            ));
        }
        crate::logging::parse_filter(&self.log.level).map_err(|_| ConfigError::BadValue {
            name: "log level".into(),
            value: self.log.level.clone(),
            what: "log filter",
        })?;
        Ok(())
    }
}

/// Splits a comma-separated list, dropping empty entries.
fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn parse_env<T: std::str::FromStr>(name: &str, value: &str, what: &'static str) -> Result<T, ConfigError> {
    value.parse().map_err(|_| ConfigError::BadValue { name: name.into(), value: value.into(), what })
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(ConfigError::BadValue { name: name.into(), value: value.into(), what: "boolean (1/0, true/false)" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn layers_apply_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(CONFIG_FILE);
        std::fs::write(&file, "data_dir = \"/from/file\"\n[api]\naddr = \"127.0.0.1:1000\"\n[log]\nlevel = \"warn\"\n")
            .unwrap();
        let overrides = Overrides { config_file: Some(file.clone()), ..Default::default() };
        let c = Config::load_with(&overrides, env(&[]), None).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert_eq!(c.api.addr.port(), 1000);
        assert_eq!(c.log.level, "warn");
        assert_eq!(c.config_file.as_deref(), Some(file.as_path()));

        let c = Config::load_with(
            &overrides,
            env(&[("FOG_DATA_DIR", "/from/env"), ("FOG_API_ADDR", "127.0.0.1:2000")]),
            None,
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/env"));
        assert_eq!(c.api.addr.port(), 2000);

        let flags = Overrides {
            data_dir: Some("/from/flag".into()),
            api_addr: Some("127.0.0.1:3000".parse().unwrap()),
            ..overrides
        };
        let c = Config::load_with(&flags, env(&[("FOG_DATA_DIR", "/from/env")]), None).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.api.addr.port(), 3000);
    }

    #[test]
    fn defaults_without_a_file() {
        let c = Config::load_with(&Overrides { data_dir: Some("/d".into()), ..Default::default() }, env(&[]), None)
            .unwrap();
        assert_eq!(c.api.addr.to_string(), DEFAULT_API_ADDR);
        assert!(c.api.enabled);
        assert_eq!(c.config_file, None);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(CONFIG_FILE);
        std::fs::write(&file, "[api]\nadress = \"x\"\n").unwrap();
        let err = Config::from_file(&file).unwrap_err();
        assert!(err.to_string().contains("adress"), "{err}");
        let err = Config::load_with(&Overrides::default(), env(&[("FOG_API_ADDR", "nope")]), None).unwrap_err();
        assert!(matches!(err, ConfigError::BadValue { .. }));
        let missing = Overrides { config_file: Some(dir.path().join("missing.toml")), ..Default::default() };
        assert!(matches!(Config::load_with(&missing, env(&[]), None), Err(ConfigError::Read { .. })));
    }

    #[test]
    fn mesh_addresses_come_from_env_and_are_validated() {
        let base = Overrides { data_dir: Some("/d".into()), ..Default::default() };
        let c =
            Config::load_with(&base, env(&[("FOG_MESH_LISTEN", "/ip4/127.0.0.1/tcp/0, /ip4/127.0.0.1/tcp/1")]), None)
                .unwrap();
        assert_eq!(c.mesh.listen, vec!["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/1"]);
        assert_eq!(c.mesh.bootstrap, Vec::<String>::new());
        let err = Config::load_with(&base, env(&[("FOG_MESH_BOOTSTRAP", "127.0.0.1:7421")]), None).unwrap_err();
        assert!(err.to_string().contains("127.0.0.1:7421"), "{err}");
    }

    #[test]
    fn remote_api_needs_an_explicit_flag() {
        let base = Overrides {
            data_dir: Some("/d".into()),
            api_addr: Some("0.0.0.0:7420".parse().unwrap()),
            ..Default::default()
        };
        assert!(matches!(Config::load_with(&base, env(&[]), None), Err(ConfigError::RemoteApiNotAllowed { .. })));
        let allowed = Overrides { allow_remote_api: true, ..base };
        assert!(Config::load_with(&allowed, env(&[]), None).is_ok());
    }
}
