//! `xingcun`: the command line. Thin: parse, build the config, call the crates.
//!
//! Decisions about how the commands meet a person:
//! - Every command first says, on standard error, which database it uses (a password is
//!   never shown), so a leftover `DATABASE_URL` is seen before it does anything.
//! - Commands that create tables (`serve`, `migrate`, `simulate`, `import`) refuse a
//!   database that holds other tables and no xingcun log yet, unless given
//!   `--allow-foreign-tables` (see `Store::foreign_tables`).
//! - Commands that only read (`verify`, `export`, `regions`) open the database read-only and
//!   work on an auditor's read-only copy; `serve` on a read-only SQLite file serves reads,
//!   and says at start why writes are refused.
//! - Progress lines are drawn only when standard error is a terminal; log lines carry ANSI
//!   colour only then (and never with `NO_COLOR` set).
//! - Ctrl-C during `simulate` or `import` ends with what was written and what to do next
//!   (exit code 130).
//! - An error prints its causes once each: a cause whose text its parent already shows is
//!   not repeated.

mod regions;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use xingcun_api::AppState;
use xingcun_simulate::{FiguresCounter, Preset, SimConfig, SimError};
use xingcun_store::transfer::{ImportProgress, export_jsonl, import_jsonl};
use xingcun_store::{
    EventLog, Executor, ManualClock, Store, SystemClock, redact_url, verify_with_progress,
};

/// 兴村 xingcun — the event-sourced backend of a town-and-village governance app
///
/// Every task dispatch, screening rejection, procedure step and bid is an immutable event in
/// one hash-chained log. With no subcommand, `xingcun` serves HTTP on SQLite (./xingcun.db).
#[derive(Debug, Parser)]
#[command(name = "xingcun", version)]
struct Cli {
    /// Where the event log lives: `sqlite://PATH` (created if missing; `?mode=ro` to only
    /// read) or `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        // Never print the variable's value (it may hold a password) in --help.
        hide_env_values = true,
        default_value = "sqlite://./xingcun.db",
        global = true
    )]
    database_url: String,

    /// Let serve, migrate, simulate and import create xingcun's tables in a database that
    /// already holds other tables (by default such a database is refused: it is probably
    /// another application's).
    #[arg(long, global = true)]
    allow_foreign_tables: bool,

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
    /// Write the log as JSON Lines (one event per line, then an end-of-log trailer).
    Export {
        /// Only the events concerning this village: its 12-digit code, or its name where
        /// no other village in the log has it (`--village 棠村`). Such an extract is for
        /// reading and auditing; it cannot be imported.
        #[arg(long)]
        village: Option<String>,
        /// With `--village NAME`: look the name up in this town only (its code or name),
        /// for a name several towns' villages share.
        #[arg(long, requires = "village")]
        town: Option<String>,
        /// Overwrite FILE if it exists (by default an existing file is refused).
        #[arg(long)]
        force: bool,
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
        /// How much of Shaoxing.
        #[arg(long, value_enum, default_value_t = PresetArg::City)]
        preset: PresetArg,
        /// Years of history from --start (2 or more reach 2024, when screening took effect).
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
    /// List the regions the log holds, with their codes: the city, counties and towns (with
    /// their number of villages), or one town's villages.
    Regions {
        /// List this town's villages (its 12-digit code or its name).
        #[arg(long)]
        town: Option<String>,
    },
}

/// `--preset`: how much of Shaoxing to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PresetArg {
    /// One town (澄潭街道), 4 villages: seconds, for tests.
    Village,
    /// 澄潭街道 with all its villages.
    Town,
    /// 诸暨市.
    County,
    /// 6 counties, 103 towns, 2,119 villages, ~21,000 cadres.
    City,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Self {
        match p {
            PresetArg::Village => Preset::Village,
            PresetArg::Town => Preset::Town,
            PresetArg::County => Preset::County,
            PresetArg::City => Preset::City,
        }
    }
}

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::from(2)
        }
    };
    // Dropping a runtime waits for its blocking tasks; after a Ctrl-C, import's checking
    // pass may still be reading a large file on one. What was committed is committed.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// An error and its causes, each said once: a cause whose text is already part of what
/// has been said (an error that prints its source in its own message) is skipped.
fn error_chain(e: &anyhow::Error) -> String {
    let mut said = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if said.contains(&text) {
            continue;
        }
        if !said.is_empty() {
            said.push_str(": ");
        }
        said.push_str(&text);
    }
    said
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let url = cli.database_url.as_str();
    let command = cli.command.unwrap_or(Command::Serve {
        listen: default_listen(),
    });
    // Caught from before the first line is printed, so a Ctrl-C at any point of a run that
    // writes is answered with what was written.
    let mut interrupt = match command {
        Command::Import { .. } | Command::Simulate { .. } => Some(Interrupt::install()?),
        _ => None,
    };
    eprintln!("xingcun: using {}", describe_database(url));
    let clock = || Arc::new(SystemClock);
    match command {
        Command::Serve { listen } => {
            let listen = resolve_listen(&listen).await?;
            let store = match Store::read_only_reason(url) {
                Some(reason) => {
                    let store = Store::open_read_only(url, clock())
                        .await
                        .context("opening the event store")?;
                    tracing::warn!(
                        %reason,
                        "serving read-only: reads are answered, every write is refused"
                    );
                    store
                }
                None => {
                    refuse_foreign_tables(url, cli.allow_foreign_tables).await?;
                    Store::connect(url, clock())
                        .await
                        .context("opening the event store")?
                }
            };
            let cancel = CancellationToken::new();
            xingcun_api::serve(AppState { store }, listen, shutdown_signal(), cancel)
                .await
                .with_context(|| format!("serving on {listen}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            refuse_foreign_tables(url, cli.allow_foreign_tables).await?;
            let store = Store::connect(url, clock())
                .await
                .context("opening the event store")?;
            println!("migrated: {} database is up to date", store.backend_name());
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            village,
            town,
            force,
            file,
        } => {
            let store = Store::open_read_only(url, clock())
                .await
                .context("opening the event store")?;
            let village = match village {
                None => None,
                Some(given) => Some(resolve_village(&store, &given, town.as_deref()).await?),
            };
            export(&store, village.as_deref(), force, &file).await
        }
        Command::Import { file } => {
            // A file that cannot be read changes nothing: not even a new empty database.
            std::fs::File::open(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let mut interrupt = interrupt.take().context("interrupt handler")?;
            let opening = async {
                refuse_foreign_tables(url, cli.allow_foreign_tables).await?;
                Store::connect(url, clock())
                    .await
                    .context("opening the event store")
            };
            let store = tokio::select! {
                store = opening => store?,
                () = interrupt.recv() => {
                    eprintln!(
                        "interrupted while opening the database: nothing was imported. Run the same \
                         command again to import."
                    );
                    return Ok(ExitCode::from(INTERRUPTED));
                }
            };
            import(&store, &file, &mut interrupt).await
        }
        Command::Simulate {
            preset,
            years,
            seed,
            start,
            daily_progress,
        } => {
            let mut interrupt = interrupt.take().context("interrupt handler")?;
            refuse_foreign_tables(url, cli.allow_foreign_tables).await?;
            let config = SimConfig {
                preset: preset.into(),
                years,
                seed,
                start,
                daily_progress,
            };
            simulate_into(url, &config, &mut interrupt).await
        }
        Command::Verify => {
            let store = Store::open_read_only(url, clock())
                .await
                .context("opening the event store")?;
            verify(&store).await
        }
        Command::Regions { town } => {
            let store = Store::open_read_only(url, clock())
                .await
                .context("opening the event store")?;
            let directory = regions::Directory::load(&store).await?;
            if directory.is_empty() {
                bail!("this log holds no regions (a simulated history does: `xingcun simulate`)");
            }
            match town {
                None => print!("{}", directory.outline()),
                Some(town) => print!("{}", directory.villages_of(directory.town(&town)?)),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The database a URL names, fit to print: the backend, the URL without its password,
/// and for SQLite the file's absolute path (a relative one depends on where you stand).
fn describe_database(url: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return format!("PostgreSQL database {}", redact_url(url));
    }
    match sqlite_file(url) {
        Some(path) => {
            let absolute = std::path::absolute(&path).unwrap_or(path);
            format!(
                "SQLite database {} ({})",
                redact_url(url),
                absolute.display()
            )
        }
        None => format!("database {}", redact_url(url)),
    }
}

/// The file of a SQLite URL (`sqlite://PATH?…` or a bare path).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    if url.contains("://") && !url.starts_with("sqlite:") {
        return None;
    }
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// How to empty the database at `url` so a simulation can start over.
fn start_over_hint(url: &str) -> String {
    if let Some(path) = sqlite_file(url) {
        let p = path.display();
        return format!(
            "delete the SQLite file and its companions (`rm -f {p} {p}-wal {p}-shm`), then run the same command again"
        );
    }
    let Some(db) = url_database(url) else {
        return "drop and re-create the database, then run the same command again".into();
    };
    format!(
        "drop and re-create the PostgreSQL database ({}, or in psql: `drop database \"{}\"; create database \"{}\";`), then run the same command again",
        db.shell, db.name, db.name
    )
}

struct PgTarget {
    name: String,
    shell: String,
}

/// The database name of a PostgreSQL URL and the dropdb/createdb lines for it.
fn url_database(url: &str) -> Option<PgTarget> {
    let rest = url.split_once("://")?.1;
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    let (authority, name) = rest.split_once('/')?;
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (user.split(':').next().filter(|u| !u.is_empty()), host),
        None => (None, authority),
    };
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
        _ => (host, None),
    };
    let mut args = format!("-h {host}");
    if let Some(port) = port {
        args.push_str(&format!(" -p {port}"));
    }
    if let Some(user) = user {
        args.push_str(&format!(" -U {user}"));
    }
    Some(PgTarget {
        name: name.to_owned(),
        shell: format!("`dropdb {args} {name} && createdb {args} {name}`"),
    })
}

/// Commands that create tables refuse a database that holds other tables and no xingcun
/// log yet (see `Store::foreign_tables`).
async fn refuse_foreign_tables(url: &str, allowed: bool) -> anyhow::Result<()> {
    if allowed {
        return Ok(());
    }
    let tables = Store::foreign_tables(url)
        .await
        .context("opening the event store")?;
    if tables.is_empty() {
        return Ok(());
    }
    let shown = tables
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let more = if tables.len() > 5 { ", …" } else { "" };
    bail!(
        "{} holds other tables ({shown}{more}) and no xingcun event log: it looks like another \
         application's database, and nothing was created in it. Name xingcun's own database with \
         --database-url (is a leftover DATABASE_URL set?), or pass --allow-foreign-tables to \
         create xingcun's tables beside them",
        redact_url(url)
    )
}

/// Progress lines are for a person watching a terminal, not for logs.
fn show_progress() -> bool {
    std::io::stderr().is_terminal()
}

/// The code of the village `given` names (a code, or a name unique in `town` or the log).
async fn resolve_village(store: &Store, given: &str, town: Option<&str>) -> anyhow::Result<String> {
    let directory = regions::Directory::load(store).await?;
    let town = match town {
        Some(town) => Some(
            directory
                .town(town)
                .with_context(|| format!("--town {town}"))?
                .code
                .clone(),
        ),
        None => None,
    };
    let found = directory
        .village(given, town.as_ref())
        .with_context(|| format!("--village {given}"))?;
    eprintln!(
        "xingcun: exporting the events of {} ({})",
        found.name,
        found.code.as_str()
    );
    Ok(found.code.as_str().to_owned())
}

/// Write the log (or one village's events, `village` a code the log holds) to `file`.
async fn export(
    store: &Store,
    village: Option<&str>,
    force: bool,
    file: &Path,
) -> anyhow::Result<ExitCode> {
    let summary = if file.as_os_str() == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        export_jsonl(store, &mut out, village).await?
    } else {
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(!force)
            .create(force)
            .truncate(force)
            .open(file)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    anyhow::anyhow!(
                        "{} already exists; pass --force to overwrite it",
                        file.display()
                    )
                } else {
                    anyhow::anyhow!("creating {}: {e}", file.display())
                }
            })?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, created);
        export_jsonl(store, &mut out, village).await?
    };
    eprintln!(
        "exported {} events (log head position {}, hash {})",
        summary.events, summary.head_position, summary.head_hash
    );
    Ok(ExitCode::SUCCESS)
}

async fn verify(store: &Store) -> anyhow::Result<ExitCode> {
    let head = store.head_position().await.context("reading the log")?;
    let tty = show_progress();
    let started = Instant::now();
    let report = verify_with_progress(store, |at| {
        if tty {
            let rate = at as f64 / started.elapsed().as_secs_f64().max(0.001);
            eprint!("\rverified up to position {at} of {head} ({rate:.0} events/s)   ");
        }
    })
    .await;
    if tty {
        eprintln!();
    }
    let report = report.context("reading the log")?;
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

async fn import(store: &Store, file: &Path, interrupt: &mut Interrupt) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let tty = show_progress();
    let mut last = None;
    let run = import_jsonl(store, file, |p| {
        last = Some(p);
        if !tty {
            return;
        }
        match p {
            ImportProgress::Checked { events } => {
                eprint!("\rchecking the file: {events} events checked   ");
            }
            ImportProgress::Loaded { position, of } => {
                let rate = position as f64 / started.elapsed().as_secs_f64().max(0.001);
                eprint!("\rimported up to position {position} of {of} ({rate:.0} events/s)   ");
            }
        }
    });
    let outcome = tokio::select! {
        summary = run => Some(summary),
        () = interrupt.recv() => None,
    };
    if tty {
        eprintln!();
    }
    let Some(summary) = outcome else {
        let head = settled_head(store).await?;
        match last {
            Some(ImportProgress::Loaded { of, .. }) => eprintln!(
                "interrupted: the log now holds positions 1 to {head} of the file's {of}. Run the same \
                 command again to continue after them (nothing is imported twice)."
            ),
            _ => eprintln!(
                "interrupted while checking the file: nothing was written by this run (the log holds \
                 {head} events). Run the same command again to start the import."
            ),
        }
        return Ok(ExitCode::from(INTERRUPTED));
    };
    let summary = summary.with_context(|| format!("importing {}", file.display()))?;
    println!(
        "imported {} events ({} already present from an earlier run); head position {} hash {}",
        summary.imported, summary.resumed_after, summary.head_position, summary.head_hash
    );
    Ok(ExitCode::SUCCESS)
}

/// The head once the writer has gone quiet: after Ctrl-C the writer may still be
/// committing what was queued (each group commits whole or not at all), so the head is read
/// when it has not moved for half a second.
async fn settled_head(store: &Store) -> anyhow::Result<u64> {
    let mut head = store.watch_head();
    while let Ok(Ok(())) = tokio::time::timeout(Duration::from_millis(500), head.changed()).await {}
    Ok(store.head_position().await?)
}

/// `xingcun simulate`: the store runs on the simulator's clock.
async fn simulate_into(
    database_url: &str,
    config: &SimConfig,
    interrupt: &mut Interrupt,
) -> anyhow::Result<ExitCode> {
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
    let tty = show_progress();
    let mut reached = None;
    let run = xingcun_simulate::simulate(&executor, &clock, config, |p| {
        reached = Some((p.simulated_day, p.days_done, p.days_total));
        if !tty || (last_report.elapsed().as_millis() < 500 && p.days_done < p.days_total) {
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
    });
    let outcome = tokio::select! {
        summary = run => Some(summary),
        () = interrupt.recv() => None,
    };
    if tty {
        eprintln!();
    }
    let Some(summary) = outcome else {
        let head = settled_head(&store).await?;
        let reached = reached.map_or_else(
            || "while setting up (before the first simulated day)".to_owned(),
            |(day, done, total)| format!("on {day} (day {done} of {total})"),
        );
        eprintln!(
            "interrupted {reached}: the log holds {head} events. A simulation runs only into an \
             empty database, so this one cannot be continued. To start over: {}.",
            start_over_hint(database_url)
        );
        return Ok(ExitCode::from(INTERRUPTED));
    };
    let summary = match summary {
        Err(SimError::LogNotEmpty { head }) => bail!(
            "the event log is not empty (it holds {head} events): a simulation runs only into an \
             empty database. To start over: {}",
            start_over_hint(database_url)
        ),
        other => other.context("simulating")?,
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "simulated {} ({} to {}, seed {}): {} commands, {} events in {:.1}s ({:.0} events/s)",
        summary.preset,
        summary.start,
        summary.end,
        summary.seed,
        summary.commands,
        summary.events,
        secs,
        summary.events as f64 / secs,
    );
    // The simulator breaks the rules on purpose now and then, as people do (see
    // crates/simulate): these refusals show the rules holding, they are not failures.
    println!(
        "deliberate refusals: {} (commands the simulator issued knowing the rules refuse them: a \
         record made up after the fact, praise above the town's cap, a task under the wrong \
         category; refused as the rules require, not errors)",
        summary.refused_total()
    );
    for (code, n) in &summary.refused_by_stream {
        match summary.refusal_examples.get(code) {
            Some(example) => println!("  refused {code}: {n} (e.g. {example})"),
            None => println!("  refused {code}: {n}"),
        }
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

/// Ctrl-C (SIGINT), caught from the moment it is installed: a Ctrl-C that comes while the
/// database is being opened is held until the command looks, instead of killing the
/// process half-way.
struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn install() -> anyhow::Result<Self> {
        Ok(Interrupt {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .context("installing the Ctrl-C handler")?,
        })
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
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
