//! `xingcun`: the command line. Thin: parse, build the config, call the crates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use xingcun_api::AppState;
use xingcun_projections::Runtime;
use xingcun_simulate::{FiguresCounter, Preset, SimConfig};
use xingcun_store::transfer::{export_jsonl, import_jsonl};
use xingcun_store::{EventLog, Executor, ManualClock, Store, SystemClock, verify};

/// 兴村 xingcun — the event-sourced backend of a town-and-village governance app.
///
/// Every task dispatch, screening rejection, procedure step and bid is an immutable event in
/// one hash-chained log. With no subcommand, `xingcun` serves HTTP on SQLite (./xingcun.db).
#[derive(Debug, Parser)]
#[command(name = "xingcun", version, about, long_about)]
struct Cli {
    /// Where the event log lives: `sqlite://PATH` (created if missing) or
    /// `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        // Never print the variable's value (it may hold a password) in --help.
        hide_env_values = true,
        default_value = "sqlite://./xingcun.db",
        global = true
    )]
    database_url: String,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the HTTP server (the default): /healthz, /readyz.
    Serve {
        /// Address to listen on: HOST:PORT, the host a name or an address
        /// (`localhost:8082`, `0.0.0.0:8080`, `[::1]:8080`).
        #[arg(long, env = "XINGCUN_LISTEN", default_value = DEFAULT_LISTEN)]
        listen: String,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Rebuild read models from the log into fresh tables (blue/green): the tables in use
    /// keep serving until the new ones have caught up with the log, then one transaction
    /// swaps them in and drops the old ones. An interrupted rebuild resumes where it stopped.
    Rebuild {
        /// The read models to rebuild: village_board, screening_stats, audit_trail,
        /// town_dashboard, procedure_register, bid_board.
        names: Vec<String>,
        /// Rebuild every read model.
        #[arg(long, conflicts_with = "names")]
        all: bool,
    },
    /// Write the log as JSON Lines (one event per line, then an end-of-log trailer).
    Export {
        /// Only the events concerning this village (12-digit code). Such an extract is for
        /// reading and auditing; it cannot be imported.
        #[arg(long)]
        village: Option<String>,
        /// The file to write (`-` for standard output).
        file: PathBuf,
    },
    /// Load a whole-log export into an empty database (or finish an interrupted import).
    /// The file is checked first, line by line and along the hash chain; a bad file is
    /// refused, naming the line, before anything is written.
    Import {
        /// A file written by `xingcun export`.
        file: PathBuf,
    },
    /// Generate a realistic history of Shaoxing's towns and villages into an EMPTY database,
    /// by issuing real domain commands on a simulated clock. The same seed gives the same
    /// log, byte for byte.
    Simulate {
        /// How much of Shaoxing: village (one town, 4 villages: seconds), town (澄潭街道),
        /// county (诸暨市), city (6 counties, 103 towns, 2,119 villages, ~21,000 cadres).
        #[arg(long, default_value = "city")]
        preset: Preset,
        /// Years of history from --start.
        #[arg(long, default_value_t = 3)]
        years: u32,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First simulated day (the baseline year before screening took effect is 2023).
        #[arg(long, default_value = "2023-01-01")]
        start: chrono::NaiveDate,
        /// Every cadre with work in hand reports progress each working day (进度日报):
        /// several times the events, for scale benchmarks. Not the published shape.
        #[arg(long)]
        daily_progress: bool,
    },
    /// Recompute the hash chain over the whole log. Exit code 1 names the first position
    /// that was altered, deleted or inserted; 0 prints the head hash to keep on record.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Serve {
        listen: default_listen(),
    });
    if let Command::Simulate {
        preset,
        years,
        seed,
        start,
        daily_progress,
    } = command
    {
        let config = SimConfig {
            preset,
            years,
            seed,
            start,
            daily_progress,
        };
        return simulate_into(&cli.database_url, &config).await;
    }
    // Commands that only read never create a database.
    let reads_only = matches!(command, Command::Verify | Command::Export { .. });
    let store = if reads_only {
        Store::open_existing(&cli.database_url, Arc::new(SystemClock)).await
    } else {
        Store::connect(&cli.database_url, Arc::new(SystemClock)).await
    }
    .context("opening the event store")?;
    match command {
        Command::Serve { listen } => {
            let listen = resolve_listen(&listen).await?;
            let cancel = CancellationToken::new();
            let runtime = Runtime::open(store.clone(), xingcun_projections::all())
                .await
                .context("opening the read models")?;
            // The read models follow the log beside the server, each in its own task; they
            // stop at a batch boundary when the server shuts down.
            let projections = tokio::spawn(Arc::new(runtime).run(cancel.clone()));
            let served = xingcun_api::serve(
                AppState { store },
                listen,
                shutdown_signal(),
                cancel.clone(),
            )
            .await
            .with_context(|| format!("serving on {listen}"));
            cancel.cancel();
            let _ = projections.await;
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rebuild { names, all } => rebuild(store, names, all).await,
        Command::Migrate => {
            println!("migrated: {} database is up to date", store.backend_name());
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { village, file } => {
            if let Some(v) = &village {
                xingcun_domain::RegionId::parse(v)
                    .map_err(|e| anyhow::anyhow!("--village: {e}"))?;
            }
            let summary = if file.as_os_str() == "-" {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                export_jsonl(&store, &mut out, village.as_deref()).await?
            } else {
                let created = std::fs::File::create(&file)
                    .with_context(|| format!("creating {}", file.display()))?;
                let mut out = std::io::BufWriter::with_capacity(1 << 20, created);
                export_jsonl(&store, &mut out, village.as_deref()).await?
            };
            eprintln!(
                "exported {} events (log head position {}, hash {})",
                summary.events, summary.head_position, summary.head_hash
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { file } => {
            let started = std::time::Instant::now();
            let summary = import_jsonl(&store, &file, |at, total| {
                let rate = at as f64 / started.elapsed().as_secs_f64().max(0.001);
                eprint!("\rimported up to position {at} of {total} ({rate:.0} events/s)   ");
            })
            .await;
            eprintln!();
            let summary = summary.with_context(|| format!("importing {}", file.display()))?;
            println!(
                "imported {} events ({} already present from an earlier run); head position {} hash {}",
                summary.imported, summary.resumed_after, summary.head_position, summary.head_hash
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate { .. } => unreachable!("handled above"),
        Command::Verify => {
            let report = verify(&store).await.context("reading the log")?;
            match &report.first_problem {
                None => {
                    println!(
                        "ok: {} events verified; head position {} hash {}",
                        report.events, report.head_position, report.head_hash
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(problem) => {
                    println!("TAMPERED at position {}: {problem}", problem.position());
                    println!("{} events verified before it", report.events);
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// `xingcun rebuild`: each named read model (or all) built afresh, with a progress bar.
async fn rebuild(store: Store, names: Vec<String>, all: bool) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::open(store, xingcun_projections::all())
        .await
        .context("opening the read models")?;
    let known: Vec<&str> = runtime.projections().iter().map(|p| p.name()).collect();
    if names.is_empty() && !all {
        anyhow::bail!(
            "name the read models to rebuild, or --all (known: {})",
            known.join(", ")
        );
    }
    let chosen = if all {
        runtime.projections().to_vec()
    } else {
        names
            .iter()
            .map(|n| {
                runtime
                    .find(n)
                    .with_context(|| format!("known read models: {}", known.join(", ")))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for p in chosen {
        let started = Instant::now();
        let mut last_report = Instant::now();
        let name = p.name();
        runtime
            .catch_up_one(p.as_ref(), true, &mut |progress| {
                if last_report.elapsed().as_millis() < 500 {
                    return;
                }
                last_report = Instant::now();
                let secs = progress.elapsed.as_secs_f64().max(0.001);
                let rate = progress.position as f64 / secs;
                let left = progress.head.saturating_sub(progress.position) as f64 / rate.max(1.0);
                let line = format!(
                    "[{name}] {}/{} events, {rate:.0} events/s, {left:.0} s left",
                    progress.position, progress.head
                );
                if terminal {
                    eprint!("\r{line}   ");
                } else {
                    eprintln!("{line}");
                }
            })
            .await?;
        if terminal {
            eprintln!();
        }
        println!(
            "rebuilt {name} in {:.1} s (now serving the new build)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `xingcun simulate`: the store runs on the simulator's clock.
async fn simulate_into(database_url: &str, config: &SimConfig) -> anyhow::Result<ExitCode> {
    let clock = ManualClock::new(
        config
            .start
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc(),
    );
    let store = Store::connect(database_url, Arc::new(clock.clone()))
        .await
        .context("opening the event store")?;
    let executor = Executor::new(store.clone());
    let started = Instant::now();
    let mut last_report = Instant::now();
    let summary = xingcun_simulate::simulate(&executor, &clock, config, |p| {
        if last_report.elapsed().as_millis() < 500 && p.days_done < p.days_total {
            return;
        }
        last_report = Instant::now();
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let done = f64::from(p.days_done) / f64::from(p.days_total.max(1));
        let left = if done > 0.0 { secs / done - secs } else { 0.0 };
        let width = 30;
        let filled = (done * width as f64) as usize;
        eprint!(
            "\r[{}{}] {} day {}/{}  {} events  {:.0} events/s  ~{:.0}s left   ",
            "#".repeat(filled),
            " ".repeat(width - filled.min(width)),
            p.simulated_day,
            p.days_done,
            p.days_total,
            p.events,
            p.events as f64 / secs,
            left
        );
    })
    .await;
    eprintln!();
    let summary = summary.context("simulating")?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "simulated {} ({} to {}, seed {}): {} commands, {} events in {:.1}s ({:.0} events/s); {} commands refused by the rules",
        summary.preset,
        summary.start,
        summary.end,
        summary.seed,
        summary.commands,
        summary.events,
        secs,
        summary.events as f64 / secs,
        summary.refused_total()
    );
    for (code, n) in &summary.refused_by_stream {
        println!("  refused {code}: {n}");
    }
    // The published figures, counted from the log itself, not from the generator.
    let mut counter = FiguresCounter::default();
    let mut after = 0;
    loop {
        let page = store.read_all_raw(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        page.iter().for_each(|e| counter.add(e));
    }
    let f = counter.finish();
    println!(
        "from the log: {} towns, {} villages, {} cadres; screening rejections since 2024: {}; procedures: {}",
        f.towns,
        f.villages,
        f.cadres,
        f.screening_rejections_since(2024),
        f.procedures()
    );
    for (year, n) in &f.assignments_by_year {
        println!("  tasks reaching villages in {year}: {n}");
    }
    if f.assignments_in(2023) > 0
        && f.assignments_in(2025) > 0
        && let Some(change) = f.assignment_change_percent(2023, 2025)
    {
        println!("  change 2025 against 2023: {change:+.1}%");
    }
    Ok(ExitCode::SUCCESS)
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// With no verb, `serve` on `XINGCUN_LISTEN` (or the default), as `xingcun serve` would.
fn default_listen() -> String {
    std::env::var("XINGCUN_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_owned())
}

/// A listen address as given (`localhost:8082`), resolved; a bad one is an error that says
/// what was expected, never silently replaced by the default.
async fn resolve_listen(listen: &str) -> anyhow::Result<SocketAddr> {
    tokio::net::lookup_host(listen)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .with_context(|| {
            format!("cannot listen on {listen:?}: expected HOST:PORT, e.g. 127.0.0.1:8080 or localhost:8082")
        })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
