//! `fog idle`: the idle-compute harvester of a running node.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::{Args, Subcommand};
use fog_idle::{DeviceState, HarvestSettings, HarvestStats, JobView, Reading, RunEnd};
use fog_node::api::types::IdleDevice;
use fog_node::Config;

use crate::client::NodeClient;
use crate::{overrides, ConfigArgs};

#[derive(Args)]
pub struct IdleArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: IdleCommand,
}

#[derive(Subcommand)]
enum IdleCommand {
    /// The policy's decision and why, the device as probed, jobs and harvest totals.
    Status,
    /// Show the harvest settings, or change some: `fog idle settings --set run_on_batteries=true`.
    Settings {
        /// field=value (repeatable); the value is JSON, or a plain string.
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// Run a job here when the policy allows: an example name (sieve, mandelbrot, wordcount)
    /// or a WASI module file. Waits for the result unless --no-wait.
    Run {
        /// Example name or path to a .wasm file.
        job: String,
        /// Input text.
        #[arg(long, conflicts_with = "input_file")]
        input: Option<String>,
        /// File whose bytes are the input.
        #[arg(long, value_name = "FILE")]
        input_file: Option<PathBuf>,
        /// Queue it and return at once.
        #[arg(long)]
        no_wait: bool,
    },
    /// A job's state and result; --output writes its whole stdout as raw bytes.
    Job {
        id: u64,
        #[arg(long)]
        output: bool,
    },
    /// Cancel a queued or running job.
    Cancel { id: u64 },
    /// This node and the mesh's nodes that advertise capacity.
    Devices,
}

pub fn run(args: IdleArgs) -> anyhow::Result<()> {
    let client = NodeClient::from_config(&Config::load(&overrides(&args.config))?)?;
    match args.command {
        IdleCommand::Status => print_status(&serde_json::from_value(client.get("/api/idle-compute/stats")?)?),
        IdleCommand::Settings { set } => settings(&client, &set)?,
        IdleCommand::Run { job, input, input_file, no_wait } => {
            let input = match (input, input_file) {
                (Some(text), _) => Some(text.into_bytes()),
                (None, Some(file)) => {
                    Some(std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?)
                }
                (None, None) => None,
            };
            run_job(&client, &job, input, !no_wait)?
        }
        IdleCommand::Job { id, output } => {
            if output {
                std::io::stdout().write_all(&client.get_bytes(&format!("/api/idle-compute/jobs/{id}/output"))?)?;
            } else {
                print_job(&serde_json::from_value(client.get(&format!("/api/idle-compute/jobs/{id}"))?)?);
            }
        }
        IdleCommand::Cancel { id } => {
            let job: JobView = serde_json::from_value(
                client.post(&format!("/api/idle-compute/jobs/{id}/cancel"), serde_json::json!({}))?,
            )?;
            println!(
                "job {} {}",
                job.id,
                if job.state == fog_idle::JobState::Cancelled { "cancelled" } else { "is stopping" }
            );
        }
        IdleCommand::Devices => {
            let devices: Vec<IdleDevice> = serde_json::from_value(client.get("/api/idle-compute/devices")?)?;
            for d in devices {
                let c = &d.capacity;
                let speed = c
                    .speed_fuel_per_sec
                    .map(|s| format!("{:.2} G instr/s", s / 1e9))
                    .unwrap_or_else(|| "not measured".into());
                let who = if d.this_node { format!("{} (this node)", d.peer_id) } else { d.peer_id.clone() };
                println!(
                    "{who}\n  {}\n  {}/{} cores free at {} %, {} running, {} queued, {speed}, price {}/G instr",
                    c.reason, c.free_cores, c.cores, c.cpu_pct, c.running_jobs, c.queued_jobs, c.price_per_gigafuel
                );
            }
        }
    }
    Ok(())
}

fn reading<T: std::fmt::Display>(r: &Reading<T>, unit: &str) -> String {
    match r {
        Reading::Known(v) => format!("{v}{unit}"),
        Reading::Unknown(why) => format!("unknown ({why})"),
    }
}

fn round(r: &Reading<f64>) -> Reading<String> {
    match r {
        Reading::Known(v) => Reading::Known(format!("{v:.1}")),
        Reading::Unknown(why) => Reading::Unknown(why.clone()),
    }
}

fn print_device(d: &DeviceState) {
    let power = match &d.power {
        Reading::Known(p) => {
            serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
        }
        Reading::Unknown(why) => format!("unknown ({why})"),
    };
    println!("power        {power}");
    println!("battery      {}", reading(&round(&d.battery_pct), " %"));
    println!("charging     {}", reading(&d.charging, ""));
    println!("user idle    {}", reading(&round(&d.user_idle_secs), " s"));
    println!(
        "CPU load     {} (other programs {})",
        reading(&round(&d.cpu_load_pct), " %"),
        reading(&round(&d.other_cpu_pct), " %")
    );
    println!("temperature  {}", reading(&round(&d.temperature_c), " °C"));
    let mib = |r: &Reading<u64>| match r {
        Reading::Known(b) => Reading::Known(b >> 20),
        Reading::Unknown(why) => Reading::Unknown(why.clone()),
    };
    println!(
        "memory       {} available of {}",
        reading(&mib(&d.memory_available_bytes), " MiB"),
        reading(&mib(&d.memory_total_bytes), " MiB")
    );
    println!("cores        {}", d.cores);
}

fn print_status(stats: &HarvestStats) {
    println!("{}", stats.decision.reason);
    match &stats.device {
        Some(device) => print_device(device),
        None => println!("the device has not been sampled yet"),
    }
    let t = &stats.totals;
    println!(
        "donated      {:.1} CPU-s, {} jobs completed, {} failed, {} preempted",
        t.cpu_seconds, t.jobs_completed, t.jobs_failed, t.jobs_preempted
    );
    for job in stats.running.iter().chain(&stats.queued) {
        println!("job {:>5}  {:<9} {}", job.id, state_name(job), job.label);
    }
}

fn state_name(job: &JobView) -> String {
    serde_json::to_value(job.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn end_text(end: &Option<RunEnd>) -> String {
    end.as_ref().map_or_else(|| "—".into(), RunEnd::to_string)
}

fn print_job(job: &JobView) {
    println!("job {} ({}): {}, {}", job.id, job.label, state_name(job), end_text(&job.end));
    println!(
        "  attempts {}, preempted {}, CPU {:.3} s, wall {:.3} s, {} instructions, peak memory {} KiB",
        job.attempts,
        job.preemptions,
        job.cpu_ms as f64 / 1000.0,
        job.wall_ms as f64 / 1000.0,
        job.fuel_used,
        job.peak_memory_bytes >> 10
    );
    match &job.output_text {
        Some(text) => print!("{text}"),
        None if job.output_bytes > 0 => {
            println!("  {} bytes of output; `fog idle job {} --output > file` saves it", job.output_bytes, job.id)
        }
        None => {}
    }
    if !job.stderr_text.is_empty() {
        eprint!("{}", job.stderr_text);
    }
}

fn run_job(client: &NodeClient, job: &str, input: Option<Vec<u8>>, wait: bool) -> anyhow::Result<()> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut body = serde_json::Map::new();
    if job.ends_with(".wasm") || std::path::Path::new(job).is_file() {
        let module = std::fs::read(job).map_err(|e| anyhow::anyhow!("cannot read {job}: {e}"))?;
        body.insert("module_base64".into(), b64.encode(module).into());
        let name = std::path::Path::new(job).file_stem().map(|s| s.to_string_lossy().into_owned());
        body.insert("label".into(), name.unwrap_or_else(|| "module".into()).into());
    } else {
        body.insert("example".into(), job.into());
    }
    if let Some(input) = input {
        body.insert("input_base64".into(), b64.encode(input).into());
    }
    let queued: JobView = serde_json::from_value(client.post("/api/idle-compute/jobs", body.into())?)?;
    if !wait {
        println!("job {} queued; `fog idle job {}` shows it", queued.id, queued.id);
        return Ok(());
    }
    let mut said_waiting = false;
    let started = Instant::now();
    loop {
        let job: JobView = serde_json::from_value(client.get(&format!("/api/idle-compute/jobs/{}", queued.id))?)?;
        if job.state.is_finished() {
            print_job(&job);
            if job.state != fog_idle::JobState::Completed {
                anyhow::bail!("job {} {}", job.id, end_text(&job.end));
            }
            return Ok(());
        }
        if !said_waiting && job.state == fog_idle::JobState::Queued && started.elapsed() > Duration::from_secs(2) {
            let stats: HarvestStats = serde_json::from_value(client.get("/api/idle-compute/stats")?)?;
            eprintln!("job {} is queued: {}", job.id, stats.decision.reason);
            said_waiting = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn settings(client: &NodeClient, set: &[String]) -> anyhow::Result<()> {
    let mut current = client.get("/api/idle-compute/settings")?;
    if !set.is_empty() {
        let fields =
            current.as_object_mut().ok_or_else(|| anyhow::anyhow!("the node sent settings that are not an object"))?;
        for assignment in set {
            let (field, value) =
                assignment.split_once('=').ok_or_else(|| anyhow::anyhow!("{assignment:?} is not FIELD=VALUE"))?;
            if !fields.contains_key(field) {
                let known: Vec<&str> = fields.keys().map(String::as_str).collect();
                anyhow::bail!("no setting {field:?}; the settings are {}", known.join(", "));
            }
            let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.into()));
            fields.insert(field.into(), value);
        }
        current = client.put("/api/idle-compute/settings", current)?;
    }
    let settings: HarvestSettings = serde_json::from_value(current)?;
    for (field, value) in serde_json::to_value(&settings)?.as_object().into_iter().flatten() {
        println!("{field} = {value}");
    }
    Ok(())
}
