//! `fog`: run a Fog Compute node headless and talk to a running one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use fog_node::api::types::{Health, MeshPeer, MeshStats, NodeInfo, ServiceState};
use fog_node::{logging, Config, Node, Overrides};

use client::NodeClient;

mod chat;
mod client;
mod idle;
mod job;
mod mix;
mod testnet;

#[derive(Parser)]
#[command(name = "fog", version, about = "Fog Compute: a fog-computing node for Linux laptops and servers.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node headless: HTTP API, live events, metrics and the dashboard on 127.0.0.1:7420.
    Node(NodeArgs),
    /// Show the identity and service health of a running node.
    Status(StatusArgs),
    /// The mesh of a running node: its addresses and peers; connect or disconnect peers.
    P2p(P2pArgs),
    /// Idle compute: what this machine donates and when, the jobs it runs, the mesh's capacity.
    Idle(idle::IdleArgs),
    /// Batch jobs for the scheduler: `fog job submit job.wasm --input data --tier gold --deadline 60s`,
    /// then `fog job status|result|cancel <id>` and `fog job stats`.
    Job(job::JobArgs),
    /// Measure the engines: `fog bench nsga --problem zdt1 --pop 100 --gens 250 --seed 1` and
    /// `fog bench sandbox` print JSON.
    Bench(BenchArgs),
    /// Start N nodes on 127.0.0.1 that find each other; Ctrl-C stops them all.
    Testnet(testnet::TestnetArgs),
    /// BitChat packets: `fog bitchat decode <hex>` prints a frame's every field as JSON;
    /// `fog bitchat encode <json>` (or `-` for stdin) builds the frame back, as hex.
    Bitchat(BitchatArgs),
    /// Betanet, the mixnet: `fog mix deploy`, `fog mix send <node> <text|file> [--wait]`,
    /// `fog mix inbox`, `fog mix reply <id> <text>`, `fog mix status`.
    Mix(mix::MixArgs),
}

#[derive(Args)]
struct P2pArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: P2pCommand,
}

#[derive(Subcommand)]
enum P2pCommand {
    /// Peer id, listen addresses and peer counts.
    Status,
    /// Connected peers with address, direction and ping latency.
    Peers,
    /// Dial a peer, e.g. `fog p2p connect /ip4/127.0.0.1/tcp/7421/p2p/12D3KooW…`.
    Connect { addr: String },
    /// Close every connection to a peer.
    Disconnect { peer: String },
}

#[derive(Args)]
struct BitchatArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: BitchatCommand,
}

#[derive(Subcommand)]
enum BitchatCommand {
    /// A frame, as hex, decoded to JSON with its payload where it can be read.
    Decode { frame: String },
    /// A frame built from JSON (as `decode` prints it; `-` reads stdin), printed as hex.
    Encode { json: String },
    /// Send to #mesh, or privately with --to <peer id>.
    Send {
        #[arg(long)]
        to: Option<String>,
        text: String,
    },
    /// The radio's state (or why there is none) and the peers heard.
    Peers,
    /// Whether this machine's Bluetooth can carry BitChat, checked here without a node.
    Radio,
    /// Messages, oldest first: all, or one channel (`#mesh` or a peer id).
    Log {
        channel: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

fn bitchat(args: BitchatArgs) -> anyhow::Result<()> {
    use std::io::Read;
    match args.command {
        BitchatCommand::Send { to, text } => chat::run(&args.config, chat::ChatCommand::Send { to, text })?,
        BitchatCommand::Peers => chat::run(&args.config, chat::ChatCommand::Peers)?,
        BitchatCommand::Radio => chat::radio()?,
        BitchatCommand::Log { channel, limit } => chat::run(&args.config, chat::ChatCommand::Log { channel, limit })?,
        BitchatCommand::Decode { frame } => {
            let json = fog_bitchat::inspect::decode_hex(&frame)?;
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        BitchatCommand::Encode { json } => {
            let json = if json == "-" {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                text
            } else {
                json
            };
            println!("{}", fog_bitchat::inspect::encode_json(&json)?);
        }
    }
    Ok(())
}

#[derive(Args)]
struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The idle-compute sandbox: module compile and instantiate times, the example kernels
    /// sandboxed against native code, and harvest-policy decisions, as JSON.
    Sandbox,
    /// Betanet mixnodes on 127.0.0.1 in this process: one mixnode fed at --rate packets a second
    /// (forwarded per second and loss), then three in a row with zero mixing delay at
    /// --latency-rate (latency p50 and p99), as JSON.
    Mixnode {
        #[arg(long, default_value_t = 10_000)]
        rate: u32,
        #[arg(long, default_value_t = 1_000)]
        latency_rate: u32,
        #[arg(long, default_value_t = 3.0)]
        secs: f64,
    },
    /// One NSGA-II run on a reference problem: hypervolume at the standard reference point,
    /// IGD against the true front, and wall time, as one JSON line.
    Nsga {
        /// zdt1, zdt2, zdt3, zdt4, zdt6, dtlz1 or dtlz2 (3 objectives).
        #[arg(long, default_value = "zdt1")]
        problem: String,
        /// nsga2, or nsga3 (its population follows its reference directions).
        #[arg(long, default_value = "nsga2")]
        algorithm: String,
        #[arg(long, default_value_t = 100)]
        pop: usize,
        #[arg(long, default_value_t = 250)]
        gens: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Threads that vary and evaluate children (nsga2; the result is the same).
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// One placement round (NSGA-II over the scheduling model) on a synthetic instance: wall
    /// time, the chosen plan against FIFO first-fit, and the process's peak memory, as JSON.
    Placement {
        #[arg(long, default_value_t = 100)]
        jobs: usize,
        #[arg(long, default_value_t = 10)]
        nodes: usize,
        #[arg(long, default_value_t = 100)]
        pop: usize,
        #[arg(long, default_value_t = 200)]
        gens: usize,
        /// Evaluation threads; default: every core from 250 jobs up, else one.
        #[arg(long)]
        threads: Option<usize>,
    },
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Sandbox => {
            let figures = fog_idle::bench::sandbox().map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string(&figures)?);
        }
        BenchCommand::Mixnode { rate, latency_rate, secs } => {
            let plan = fog_node::mix_bench::MixBenchPlan { rate, latency_rate, secs };
            let figures = fog_node::mix_bench::run(plan).map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string(&figures)?);
        }
        BenchCommand::Placement { jobs, nodes, pop, gens, threads } => {
            let threads = threads.unwrap_or_else(|| fog_sched::model::evaluation_threads(jobs));
            let report = fog_sched::bench::placement(jobs, nodes, pop, gens, threads).map_err(anyhow::Error::msg)?;
            let mut json = serde_json::to_value(&report)?;
            json["peak_rss_bytes"] = peak_rss_bytes().into();
            println!("{json}");
        }
        BenchCommand::Nsga { problem, algorithm, pop, gens, seed, threads } => {
            let report =
                fog_sched::bench::nsga(&problem, &algorithm, pop, gens, seed, threads).map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string(&report)?);
        }
    }
    Ok(())
}

/// This process's peak resident memory (VmHWM), if Linux tells.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Where the configuration comes from; flags beat `FOG_*` variables, which beat the file.
#[derive(Args, Clone)]
struct ConfigArgs {
    /// Config file (TOML). Default: ~/.config/fog-compute/fog.toml when it exists.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory: key, database, API token, logs. Default: ~/.local/share/fog-compute. Env: FOG_DATA_DIR.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// HTTP API listen address. Default: 127.0.0.1:7420. Env: FOG_API_ADDR.
    #[arg(long, global = true, value_name = "ADDR")]
    api_addr: Option<SocketAddr>,
}

#[derive(Args)]
struct NodeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Allow the API to listen on a non-loopback address (it is then reachable from the network). Env: FOG_ALLOW_REMOTE_API=1.
    #[arg(long)]
    allow_remote_api: bool,
    /// Log filter, e.g. `info` or `info,fog_node=debug`. Env: FOG_LOG.
    #[arg(long, value_name = "FILTER")]
    log: Option<String>,
    /// Mesh listen multiaddr (repeatable). Default: /ip4/0.0.0.0/tcp/7421. Env: FOG_MESH_LISTEN (comma-separated).
    #[arg(long, value_name = "MULTIADDR")]
    mesh_listen: Vec<String>,
    /// Peer to dial at start (repeatable), e.g. /ip4/127.0.0.1/tcp/7421/p2p/12D3KooW…. Env: FOG_MESH_BOOTSTRAP.
    #[arg(long, value_name = "MULTIADDR")]
    bootstrap: Vec<String>,
    /// Find peers on the local network with mDNS (sends multicast). Env: FOG_LAN_DISCOVERY=1.
    #[arg(long)]
    lan_discovery: bool,
}

#[derive(Args)]
struct StatusArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Print the node info and health as one JSON document.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Node(args) => run_node(args),
        Command::Status(args) => status(args),
        Command::P2p(args) => p2p(args),
        Command::Idle(args) => idle::run(args),
        Command::Job(args) => job::run(args),
        Command::Bench(args) => bench(args),
        Command::Testnet(args) => testnet::run(args),
        Command::Bitchat(args) => bitchat(args),
        Command::Mix(args) => mix::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fog: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn overrides(args: &ConfigArgs) -> Overrides {
    Overrides {
        config_file: args.config.clone(),
        data_dir: args.data_dir.clone(),
        api_addr: args.api_addr,
        ..Default::default()
    }
}

fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let overrides = Overrides {
        allow_remote_api: args.allow_remote_api,
        log_level: args.log.clone(),
        mesh_listen: non_empty(&args.mesh_listen),
        mesh_bootstrap: non_empty(&args.bootstrap),
        lan_discovery: args.lan_discovery,
        ..overrides(&args.config)
    };
    let config = Config::load(&overrides)?;
    let _log_guard = logging::init(&config.log.level, &config.data_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let node = Node::start(config).await?;
        let api = node.api();
        let info = api.node_info().await?;
        let Some(url) = info.api_url.clone() else {
            let detail =
                api.health().await?.services.into_iter().find(|s| s.id == "api").map(|s| s.detail).unwrap_or_default();
            node.shutdown().await;
            anyhow::bail!("the HTTP API did not start: {detail}");
        };
        println!("Fog Compute {} node running", info.version);
        println!("  peer id     {}", info.peer_id);
        println!("  fingerprint {}", info.fingerprint);
        println!("  data dir    {}", info.data_dir);
        println!("  API         {url}  (bearer token in {})", info.token_file);
        println!("  dashboard   xdg-open \"{url}/#token=$(cat {})\"", info.token_file);
        println!("  metrics     {url}/metrics");
        println!("Stop with Ctrl-C.");
        wait_for_stop_signal().await?;
        eprintln!("fog: shutting down…");
        node.shutdown().await;
        Ok(())
    })
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

fn status(args: StatusArgs) -> anyhow::Result<()> {
    let client = NodeClient::from_config(&Config::load(&overrides(&args.config))?)?;
    let info = client.get("/api/node")?;
    let health = client.get("/api/health")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "node": info, "health": health }))?);
        return Ok(());
    }
    let info: NodeInfo = serde_json::from_value(info)?;
    let health: Health = serde_json::from_value(health)?;
    println!("peer id      {}", info.peer_id);
    println!("fingerprint  {}", info.fingerprint);
    println!("version      {}", info.version);
    println!("uptime       {}", human_duration(info.uptime_s));
    println!("data dir     {}", info.data_dir);
    let status = serde_json::to_value(health.status)?;
    println!("health       {}", status.as_str().unwrap_or_default());
    for s in health.services {
        let state = match s.state {
            ServiceState::Running => "running",
            ServiceState::Starting => "starting",
            ServiceState::Stopped => "stopped",
            ServiceState::Failed => "FAILED",
            ServiceState::NotAvailable => "n/a",
        };
        println!("  {:<18} {:<9} {}", s.name, state, s.detail);
    }
    Ok(())
}

fn p2p(args: P2pArgs) -> anyhow::Result<()> {
    let client = NodeClient::from_config(&Config::load(&overrides(&args.config))?)?;
    match args.command {
        P2pCommand::Status => {
            let stats: MeshStats = serde_json::from_value(client.get("/api/p2p/stats")?)?;
            println!("peer id    {}", stats.peer_id);
            for addr in &stats.listen_addrs {
                println!("listening  {addr}");
            }
            println!("peers      {} ({} inbound, {} outbound)", stats.connected_peers, stats.inbound, stats.outbound);
            let bootstrap = if stats.bootstrap.is_empty() { "none".to_owned() } else { stats.bootstrap.join(", ") };
            println!("bootstrap  {bootstrap}");
        }
        P2pCommand::Peers => {
            let peers: Vec<MeshPeer> = serde_json::from_value(client.get("/api/p2p/peers")?)?;
            if peers.is_empty() {
                println!("no peers connected");
            }
            for p in peers {
                let latency = p.latency_ms.map(|ms| format!("{ms:.1} ms")).unwrap_or_else(|| "—".into());
                let direction = serde_json::to_value(p.direction)?;
                println!("{}  {:<8} {:>9}  {}", p.peer_id, direction.as_str().unwrap_or_default(), latency, p.address);
            }
        }
        P2pCommand::Connect { addr } => {
            client.post("/api/p2p/connect", serde_json::json!({ "addr": addr }))?;
            println!("dialling {addr}; `fog p2p peers` shows it once connected");
        }
        P2pCommand::Disconnect { peer } => {
            client.post("/api/p2p/disconnect", serde_json::json!({ "peer": peer }))?;
            println!("disconnected {peer}");
        }
    }
    Ok(())
}

fn human_duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}
