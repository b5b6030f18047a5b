//! `fog testnet`: N real `fog node` processes on 127.0.0.1 that find each other.
//!
//! Node i (from 1) gets the data dir `<dir>/node-i`, a config file there, its API on
//! 127.0.0.1:(base + i) and its mesh on 127.0.0.1:(base + 100 + i); node 1 is every other node's
//! bootstrap peer. The data dirs are reused on the next run, so identities persist. The testnet
//! waits until every node is connected to every other, prints where they are, and then watches
//! them: Ctrl-C or SIGTERM stops all, and a node that dies stops the rest and is reported.

use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use fog_node::api::types::{MeshPeer, NodeInfo};
use serde::Serialize;

use crate::client::NodeClient;

/// Mesh ports sit this far above the API ports.
const MESH_PORT_OFFSET: u16 = 100;
const MAX_NODES: u16 = 99;
const API_READY_WITHIN: Duration = Duration::from_secs(30);
const CONNECTED_WITHIN: Duration = Duration::from_secs(60);
const STOP_WITHIN: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(200);

#[derive(Args)]
pub struct TestnetArgs {
    /// How many nodes to start (2–99).
    #[arg(long, default_value_t = 3)]
    nodes: u16,
    /// Node i's API listens on 127.0.0.1:(P + i), its mesh on 127.0.0.1:(P + 100 + i).
    #[arg(long, value_name = "P", default_value_t = 7500)]
    base_port: u16,
    /// Directory for the nodes' data dirs, reused between runs. Default: <data dir>/testnet.
    #[arg(long, value_name = "D")]
    dir: Option<PathBuf>,
    /// Print one JSON document (one line) instead of a table.
    #[arg(long)]
    json: bool,
    /// Join the nodes' BitChat by a simulated radio (loopback UDP on ports P + 200 + i, every
    /// node in range of every other) instead of Bluetooth. Shown as "simulated radio".
    #[arg(long)]
    simulated_radio: bool,
    /// Deploy Betanet mixnodes on the first M nodes (M ≥ 3 gives the three layers); the other
    /// nodes are Betanet clients.
    #[arg(long, value_name = "M", default_value_t = 0)]
    mixnodes: u16,
}

/// One node as the testnet reports it.
#[derive(Serialize)]
struct NodeReport {
    node: u16,
    peer_id: String,
    api_url: String,
    token_file: String,
    data_dir: String,
    mesh_addr: String,
    pid: u32,
}

#[derive(Serialize)]
struct Report {
    dir: String,
    nodes: Vec<NodeReport>,
}

struct Layout {
    dir: PathBuf,
    base_port: u16,
    nodes: u16,
    simulated_radio: bool,
    mixnodes: u16,
}

/// Simulated-radio ports sit this far above the API ports.
const RADIO_PORT_OFFSET: u16 = 200;

impl Layout {
    fn data_dir(&self, node: u16) -> PathBuf {
        self.dir.join(format!("node-{node}"))
    }

    fn api_addr(&self, node: u16) -> SocketAddr {
        (Ipv4Addr::LOCALHOST, self.base_port + node).into()
    }

    fn mesh_addr(&self, node: u16) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.base_port + MESH_PORT_OFFSET + node)
    }

    /// The node's config file: everything it needs, so the operator can reuse it with
    /// `fog status --config …` and the user's own config never leaks in.
    fn config(&self, node: u16, bootstrap: Option<&str>) -> String {
        let bootstrap = bootstrap.map(|b| format!("{b:?}")).unwrap_or_default();
        let mut config = format!(
            "# Written by `fog testnet`; rewritten on every run.\ndata_dir = {:?}\n\n[api]\naddr = \"{}\"\n\n[mesh]\nlisten = [{:?}]\nbootstrap = [{bootstrap}]\n",
            self.data_dir(node).display().to_string(),
            self.api_addr(node),
            self.mesh_addr(node),
        );
        // Descriptors every 5 s, so a fresh testnet's topology forms within seconds.
        config.push_str(&format!("\n[betanet]\nmixnode = {}\npublish_every_secs = 5\n", node <= self.mixnodes));
        if self.simulated_radio {
            let radio = |n: u16| format!("\"127.0.0.1:{}\"", self.base_port + RADIO_PORT_OFFSET + n);
            let neighbours: Vec<String> = (1..=self.nodes).filter(|n| *n != node).map(radio).collect();
            config.push_str(&format!(
                "\n[bitchat]\nnickname = \"testnet-{node}\"\n\n[bitchat.simulated_radio]\nlisten = {}\nneighbours = [{}]\n",
                radio(node),
                neighbours.join(", ")
            ));
        }
        config
    }
}

struct Running {
    node: u16,
    child: Child,
    output: PathBuf,
}

/// The node processes; stopping them is also what dropping does.
struct Testnet {
    nodes: Vec<Running>,
}

impl Testnet {
    fn spawn(&mut self, exe: &Path, layout: &Layout, node: u16, bootstrap: Option<&str>) -> anyhow::Result<()> {
        let data_dir = layout.data_dir(node);
        std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
        let config_file = data_dir.join("testnet.toml");
        std::fs::write(&config_file, layout.config(node, bootstrap))
            .with_context(|| format!("cannot write {}", config_file.display()))?;
        let output = data_dir.join("output.log");
        let log = File::create(&output).with_context(|| format!("cannot create {}", output.display()))?;
        let mut command = Command::new(exe);
        command
            .arg("node")
            .arg("--config")
            .arg(&config_file)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // The terminal's Ctrl-C reaches only the testnet, which then stops the nodes in order.
            .process_group(0);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("FOG_") && name != "FOG_LOG" {
                command.env_remove(name);
            }
        }
        // SAFETY: prctl is async-signal-safe; it makes the node stop if the testnet dies
        // without a chance to stop it (SIGKILL), instead of leaving it running.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().with_context(|| format!("cannot start {}", exe.display()))?;
        self.nodes.push(Running { node, child, output });
        Ok(())
    }

    /// The first node that has exited: which, how, and the end of its output.
    fn exited(&mut self) -> Option<String> {
        self.nodes.iter_mut().find_map(|n| match n.child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "node {} (pid {}) exited ({status}); the end of {}:\n{}",
                n.node,
                n.child.id(),
                n.output.display(),
                tail(&n.output, 12)
            )),
            _ => None,
        })
    }

    fn stop(&mut self) {
        for n in &self.nodes {
            if let Ok(pid) = i32::try_from(n.child.id()) {
                // SAFETY: plain syscall on a child we spawned and have not reaped.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        let deadline = Instant::now() + STOP_WITHIN;
        for n in &mut self.nodes {
            while matches!(n.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(n.child.try_wait(), Ok(None)) {
                eprintln!("testnet: node {} did not stop within {STOP_WITHIN:?}; killing it", n.node);
                let _ = n.child.kill();
                let _ = n.child.wait();
            }
        }
        self.nodes.clear();
    }
}

impl Drop for Testnet {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn validate(args: &TestnetArgs) -> anyhow::Result<()> {
    if !(2..=MAX_NODES).contains(&args.nodes) {
        bail!("--nodes must be between 2 and {MAX_NODES}, not {}", args.nodes);
    }
    let top = u32::from(args.base_port) + u32::from(RADIO_PORT_OFFSET) + u32::from(args.nodes);
    if args.base_port < 1024 || top > u32::from(u16::MAX) {
        bail!("--base-port must leave room for ports P+1…P+{} within 1024–65535", RADIO_PORT_OFFSET + args.nodes);
    }
    if args.mixnodes > args.nodes {
        bail!("--mixnodes ({}) cannot exceed --nodes ({})", args.mixnodes, args.nodes);
    }
    Ok(())
}

pub fn run(args: TestnetArgs) -> anyhow::Result<()> {
    validate(&args)?;
    let dir = match args.dir.clone() {
        Some(dir) => dir,
        None => fog_node::config::default_data_dir()
            .context("no home directory for the testnet; pass --dir")?
            .join("testnet"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    eprintln!("testnet: {} nodes, data dirs under {}", args.nodes, dir.display());
    let layout = Layout {
        dir,
        base_port: args.base_port,
        nodes: args.nodes,
        simulated_radio: args.simulated_radio,
        mixnodes: args.mixnodes,
    };
    let exe = std::env::current_exe().context("cannot find the fog executable")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut testnet = Testnet { nodes: Vec::new() };

    let started = Instant::now();
    testnet.spawn(&exe, &layout, 1, None)?;
    let first = wait_ready(&mut testnet, &layout, 1)?;
    let bootstrap = format!("{}/p2p/{}", layout.mesh_addr(1), first.0.peer_id);
    let mut ready = vec![first];
    for node in 2..=args.nodes {
        testnet.spawn(&exe, &layout, node, Some(&bootstrap))?;
    }
    for node in 2..=args.nodes {
        ready.push(wait_ready(&mut testnet, &layout, node)?);
    }
    wait_connected(&mut testnet, &ready)?;
    eprintln!("testnet: all {} nodes connected to each other in {:.1} s", args.nodes, started.elapsed().as_secs_f64());

    let nodes: Vec<NodeReport> = ready
        .iter()
        .zip(&testnet.nodes)
        .map(|((info, _), running)| NodeReport {
            node: running.node,
            peer_id: info.peer_id.clone(),
            api_url: format!("http://{}", layout.api_addr(running.node)),
            token_file: info.token_file.clone(),
            data_dir: info.data_dir.clone(),
            mesh_addr: layout.mesh_addr(running.node),
            pid: running.child.id(),
        })
        .collect();
    print_report(&Report { dir: layout.dir.display().to_string(), nodes }, args.json)?;

    let outcome = runtime.block_on(watch(&mut testnet));
    match outcome {
        Ok(()) => {
            eprintln!("testnet: stopping {} nodes…", testnet.nodes.len());
            testnet.stop();
            eprintln!("testnet: stopped");
            Ok(())
        }
        Err(crash) => {
            eprintln!("testnet: {crash}");
            testnet.stop();
            bail!("a node exited, so the testnet stopped the others")
        }
    }
}

/// Waits for a node's API, failing early if the process dies.
fn wait_ready(testnet: &mut Testnet, layout: &Layout, node: u16) -> anyhow::Result<(NodeInfo, NodeClient)> {
    let token_file = layout.data_dir(node).join(fog_node::token::TOKEN_FILE);
    let deadline = Instant::now() + API_READY_WITHIN;
    loop {
        if let Some(exit) = testnet.exited() {
            bail!("{exit}");
        }
        if let Ok(token) = std::fs::read_to_string(&token_file) {
            let client = NodeClient::new(layout.api_addr(node), token.trim());
            if let Ok(info) = client.get("/api/node").and_then(|v| Ok(serde_json::from_value::<NodeInfo>(v)?)) {
                return Ok((info, client));
            }
        }
        if Instant::now() > deadline {
            bail!("node {node}'s API did not answer on {} within {API_READY_WITHIN:?}", layout.api_addr(node));
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until every node has every other as a peer.
fn wait_connected(testnet: &mut Testnet, ready: &[(NodeInfo, NodeClient)]) -> anyhow::Result<()> {
    let deadline = Instant::now() + CONNECTED_WITHIN;
    loop {
        if let Some(exit) = testnet.exited() {
            bail!("{exit}");
        }
        let mut missing = Vec::new();
        for (i, (_, client)) in ready.iter().enumerate() {
            let peers: Vec<MeshPeer> =
                client.get("/api/p2p/peers").and_then(|v| Ok(serde_json::from_value(v)?)).unwrap_or_default();
            for (j, (other, _)) in ready.iter().enumerate() {
                if i != j && !peers.iter().any(|p| p.peer_id == other.peer_id) {
                    missing.push(format!("{}→{}", i + 1, j + 1));
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the nodes did not all connect within {CONNECTED_WITHIN:?}; missing links: {}", missing.join(" "));
        }
        std::thread::sleep(POLL);
    }
}

fn print_report(report: &Report, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(report)?)?;
    } else {
        writeln!(out, "{:<5} {:<53} {:<23} token file", "node", "peer id", "API")?;
        for n in &report.nodes {
            writeln!(out, "{:<5} {:<53} {:<23} {}", n.node, n.peer_id, n.api_url, n.token_file)?;
        }
        if let Some(n) = report.nodes.first() {
            writeln!(out, "\ndashboard of node 1:  xdg-open \"{}/#token=$(cat {})\"", n.api_url, n.token_file)?;
            writeln!(out, "a node's own commands: fog p2p peers --config {}/testnet.toml", n.data_dir)?;
        }
        writeln!(out, "Stop all with Ctrl-C.")?;
    }
    out.flush()?;
    Ok(())
}

/// Runs until Ctrl-C or SIGTERM (Ok) or until a node exits (Err, saying which).
async fn watch(testnet: &mut Testnet) -> Result<(), String> {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut poll = tokio::time::interval(POLL);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = term.recv() => return Ok(()),
            _ = poll.tick() => {
                if let Some(exit) = testnet.exited() {
                    return Err(exit);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(nodes: u16, base_port: u16) -> TestnetArgs {
        TestnetArgs { nodes, base_port, dir: None, json: false, simulated_radio: false, mixnodes: 0 }
    }

    #[test]
    fn node_count_and_ports_are_checked() {
        assert!(validate(&args(5, 7500)).is_ok());
        assert!(validate(&args(1, 7500)).is_err());
        assert!(validate(&args(100, 7500)).is_err());
        assert!(validate(&args(5, 80)).is_err());
        assert!(validate(&args(5, 65500)).is_err());
    }

    #[test]
    fn each_node_gets_its_own_ports_dir_and_config() {
        let layout = Layout { dir: PathBuf::from("/t"), base_port: 7500, nodes: 3, simulated_radio: true, mixnodes: 1 };
        assert_eq!(layout.api_addr(3).to_string(), "127.0.0.1:7503");
        assert_eq!(layout.mesh_addr(3), "/ip4/127.0.0.1/tcp/7603");
        let config: fog_node::Config = toml::from_str(&layout.config(2, Some("/ip4/127.0.0.1/tcp/7601/p2p/x")))
            .expect("the written config parses");
        assert_eq!(config.data_dir, PathBuf::from("/t/node-2"));
        assert_eq!(config.api.addr.to_string(), "127.0.0.1:7502");
        assert_eq!(config.mesh.listen, ["/ip4/127.0.0.1/tcp/7602"]);
        assert_eq!(config.mesh.bootstrap, ["/ip4/127.0.0.1/tcp/7601/p2p/x"]);
        let radio = config.bitchat.simulated_radio.expect("asked for");
        assert_eq!(radio.listen.to_string(), "127.0.0.1:7702");
        assert_eq!(radio.neighbours.iter().map(|a| a.port()).collect::<Vec<_>>(), [7701, 7703]);
        let first: fog_node::Config = toml::from_str(&layout.config(1, None)).expect("parses");
        assert!(first.mesh.bootstrap.is_empty());
        assert!(first.betanet.mixnode && !config.betanet.mixnode);
    }
}
