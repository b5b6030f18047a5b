//! `fog job`: batch jobs for the scheduler of a running node, which places them on this node or
//! its peers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use clap::{Args, Subcommand};
use fog_node::api::types::{SchedJob, SchedJobDetail, SchedStats};
use fog_node::Config;
use fog_sched::lifecycle::Phase;

use crate::client::NodeClient;
use crate::{overrides, ConfigArgs};

#[derive(Args)]
pub struct JobArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: JobCommand,
}

#[derive(Subcommand)]
enum JobCommand {
    /// Queue a job: a WASI module file or an example name (sieve, mandelbrot, wordcount), e.g.
    /// `fog job submit job.wasm --input data.txt --tier gold --deadline 60s`.
    Submit {
        /// Path to a .wasm file, or an example name.
        module: String,
        /// File whose bytes are the job's stdin.
        #[arg(long, value_name = "FILE", conflicts_with = "input_text")]
        input: Option<PathBuf>,
        /// stdin as text.
        #[arg(long, value_name = "TEXT")]
        input_text: Option<String>,
        /// gold, silver or bronze.
        #[arg(long, default_value = "silver")]
        tier: String,
        /// When it should be done, from now: 90, 90s, 5m, 2h.
        #[arg(long, default_value = "10m")]
        deadline: String,
        /// Cores it needs.
        #[arg(long, default_value_t = 1)]
        cpu: u32,
        /// Memory it needs: bytes, or with K, M or G (binary).
        #[arg(long, default_value = "256M")]
        memory: String,
        /// Your estimate of the instructions it needs.
        #[arg(long)]
        work: Option<f64>,
        #[arg(long)]
        label: Option<String>,
        /// Wait for the result and print it.
        #[arg(long)]
        wait: bool,
    },
    /// One job with its placements, or every job when no id is given.
    Status { id: Option<u64> },
    /// A finished job's result; --output writes its whole stdout as raw bytes.
    Result {
        id: u64,
        #[arg(long)]
        output: bool,
    },
    /// Cancel a job that has not ended.
    Cancel { id: u64 },
    /// Queue counts, SLA figures, the last placement round and the nodes jobs can go to.
    Stats,
}

pub fn run(args: JobArgs) -> anyhow::Result<()> {
    let client = NodeClient::from_config(&Config::load(&overrides(&args.config))?)?;
    match args.command {
        JobCommand::Submit { module, input, input_text, tier, deadline, cpu, memory, work, label, wait } => {
            let mut body = serde_json::json!({
                "tier": tier,
                "deadline_s": parse_duration(&deadline)?.as_secs_f64(),
                "cpu": cpu,
                "memory_bytes": parse_bytes(&memory)?,
                "work": work,
                "label": label,
            });
            let b64 = base64::engine::general_purpose::STANDARD;
            let fields = body.as_object_mut().expect("an object");
            if module.ends_with(".wasm") || Path::new(&module).is_file() {
                let bytes = std::fs::read(&module).map_err(|e| anyhow::anyhow!("cannot read {module}: {e}"))?;
                fields.insert("module_base64".into(), b64.encode(bytes).into());
                if fields["label"].is_null() {
                    let stem = Path::new(&module).file_stem().map(|s| s.to_string_lossy().into_owned());
                    fields.insert("label".into(), stem.into());
                }
            } else {
                fields.insert("example".into(), module.into());
            }
            if let Some(file) = input {
                let bytes = std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                fields.insert("input_base64".into(), b64.encode(bytes).into());
            }
            if let Some(text) = input_text {
                fields.insert("input".into(), text.into());
            }
            let job: SchedJob = serde_json::from_value(client.post("/api/scheduler/jobs", body)?)?;
            if !wait {
                println!("job {} queued ({}); `fog job status {}` follows it", job.id, job.tier.as_str(), job.id);
                return Ok(());
            }
            let job = wait_for(&client, job.id)?;
            print_result(&client, &job, false)?;
            if job.phase != Phase::Done {
                anyhow::bail!("job {} {}", job.id, phase_text(&job.phase));
            }
        }
        JobCommand::Status { id: Some(id) } => {
            let detail: SchedJobDetail = serde_json::from_value(client.get(&format!("/api/scheduler/jobs/{id}"))?)?;
            print_line(&detail.job);
            for a in &detail.attempts {
                let outcome = a.outcome.as_deref().unwrap_or("in progress");
                println!("  attempt {} on {}: {outcome}", a.attempt, a.node);
            }
        }
        JobCommand::Status { id: None } => {
            let jobs: Vec<SchedJob> = serde_json::from_value(client.get("/api/scheduler/jobs")?)?;
            if jobs.is_empty() {
                println!("no jobs yet; `fog job submit` queues one");
            }
            jobs.iter().for_each(print_line);
        }
        JobCommand::Result { id, output } => {
            let detail: SchedJobDetail = serde_json::from_value(client.get(&format!("/api/scheduler/jobs/{id}"))?)?;
            print_result(&client, &detail.job, output)?;
        }
        JobCommand::Cancel { id } => {
            let job: SchedJob = serde_json::from_value(
                client.post(&format!("/api/scheduler/jobs/{id}/cancel"), serde_json::json!({}))?,
            )?;
            println!("job {} {}", job.id, phase_text(&job.phase));
        }
        JobCommand::Stats => print_stats(&serde_json::from_value(client.get("/api/scheduler/stats")?)?),
    }
    Ok(())
}

fn wait_for(client: &NodeClient, id: u64) -> anyhow::Result<SchedJob> {
    let mut last = String::new();
    loop {
        let detail: SchedJobDetail = serde_json::from_value(client.get(&format!("/api/scheduler/jobs/{id}"))?)?;
        let now = phase_text(&detail.job.phase);
        if now != last {
            eprintln!("job {id}: {now}");
            last = now;
        }
        if detail.job.phase.is_final() {
            return Ok(detail.job);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn phase_text(phase: &Phase) -> String {
    match phase {
        Phase::Placed { node } => format!("placed on {node}"),
        Phase::Running { node } => format!("running on {node}"),
        Phase::Failed { reason } => format!("failed: {reason}"),
        Phase::Retrying { reason } => format!("waiting to be placed again: {reason}"),
        other => other.name().to_string(),
    }
}

fn print_line(job: &SchedJob) {
    let late = match job.finished_ms {
        Some(f) if job.phase == Phase::Done && f > job.deadline_ms => " (late)",
        _ => "",
    };
    println!(
        "job {:>5}  {:<6} {:<24} {}{late}  [{}/{} attempts]",
        job.id,
        job.tier.as_str(),
        job.label,
        phase_text(&job.phase),
        job.attempts,
        job.max_attempts
    );
}

fn print_result(client: &NodeClient, job: &SchedJob, raw: bool) -> anyhow::Result<()> {
    if raw {
        std::io::stdout().write_all(&client.get_bytes(&format!("/api/scheduler/jobs/{}/output", job.id))?)?;
        return Ok(());
    }
    print_line(job);
    let Some(result) = &job.result else {
        if !job.phase.is_final() {
            println!("  no result yet");
        }
        return Ok(());
    };
    println!(
        "  {} on {}, wall {:.3} s, CPU {:.3} s, {} instructions",
        result.end,
        job.node.as_deref().unwrap_or("?"),
        result.wall_ms as f64 / 1000.0,
        result.cpu_ms as f64 / 1000.0,
        result.fuel_used
    );
    match &result.output_text {
        Some(text) => print!("{text}"),
        None if result.output_bytes > 0 => {
            println!("  {} bytes of output; `fog job result {} --output > file` saves it", result.output_bytes, job.id)
        }
        None => {}
    }
    if !result.stderr_text.is_empty() {
        eprint!("{}", result.stderr_text);
    }
    Ok(())
}

fn print_stats(stats: &SchedStats) {
    let a = &stats.active;
    println!(
        "queue        {} waiting ({} queued, {} retrying), {} placed, {} running",
        stats.queue_depth, a.queued, a.retrying, a.placed, a.running
    );
    if let Some(waiting) = &stats.waiting {
        println!("waiting      {waiting}");
    }
    println!("totals       {} placement rounds, {} placements", stats.rounds_total, stats.placements_total);
    for t in &stats.sla.tiers {
        let pct = t.on_time_pct.map(|p| format!("{p:.1} % on time")).unwrap_or_else(|| "no ended jobs".into());
        let wait = |w: Option<i64>| w.map(|w| format!("{:.2} s", w as f64 / 1000.0)).unwrap_or_else(|| "—".into());
        println!(
            "{:<12} {} jobs, {pct}, wait p50 {} p95 {}",
            t.tier.as_str(),
            t.jobs,
            wait(t.p50_wait_ms),
            wait(t.p95_wait_ms)
        );
    }
    println!("throughput   {:.2} jobs/min over the last hour", stats.sla.throughput_per_min);
    if let Some(r) = &stats.last_round {
        println!(
            "last round   {} jobs on {} nodes in {:.1} ms; {} plans on the front; {} late gold",
            r.jobs,
            r.nodes.len(),
            r.duration_ms,
            r.front.len(),
            r.late_gold
        );
    }
    for n in &stats.nodes {
        let who = if n.is_self { format!("{} (this node)", n.id) } else { n.id.clone() };
        let state = n.reason.clone().unwrap_or_else(|| "available".into());
        println!("node         {who}: {state}; {} in flight, reliability {:.2}", n.in_flight, n.reliability);
    }
}

/// "90", "90s", "5m", "2h".
fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let (number, unit) = s.trim().split_at(s.trim().find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.trim().len()));
    let value: f64 = number.parse().map_err(|_| anyhow::anyhow!("{s:?} is not a duration such as 90s, 5m or 2h"))?;
    let seconds = match unit {
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => anyhow::bail!("{s:?}: the unit must be s, m or h"),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| anyhow::anyhow!("{s:?} is not a positive duration"))
}

/// "1048576", "512K", "256M", "1G".
fn parse_bytes(s: &str) -> anyhow::Result<u64> {
    let t = s.trim();
    let (number, shift) = match t.chars().last() {
        Some('K' | 'k') => (&t[..t.len() - 1], 10),
        Some('M' | 'm') => (&t[..t.len() - 1], 20),
        Some('G' | 'g') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let value: u64 = number.parse().map_err(|_| anyhow::anyhow!("{s:?} is not a size such as 256M or 1G"))?;
    value.checked_shl(shift).filter(|v| v >> shift == value).ok_or_else(|| anyhow::anyhow!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
        assert_eq!(parse_bytes("256M").unwrap(), 256 << 20);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("99999999999999G").is_err());
    }
}
