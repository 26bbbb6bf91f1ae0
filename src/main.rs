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

mod commands;
mod database;
mod regions;
mod serve;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use xingcun_projections::Runtime;
use xingcun_simulate::{Preset, SimConfig};
use xingcun_store::Store;

/// mimalloc rather than glibc's malloc: the server allocates per request and per row, and
/// glibc's arenas cost a fifth of its CPU under load (measured with perf, BENCHMARKS.md §5).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::commands::{
    INTERRUPTED, Interrupt, export, import, resolve_village, simulate_into, verify,
};
use crate::database::{describe_database, refuse_foreign_tables};

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
    /// Start the HTTP server (the default): GraphQL at /graphql (GraphiQL in a browser,
    /// subscriptions over WebSocket), /healthz, /readyz, /metrics.
    Serve {
        /// Address to listen on: HOST:PORT, the host a name or an address
        /// (`localhost:8082`, `0.0.0.0:8080`, `[::1]:8080`).
        #[arg(long, env = "XINGCUN_LISTEN", default_value = DEFAULT_LISTEN)]
        listen: String,
        /// Serve a small real history (澄潭街道, 4 villages) from a temporary database, and
        /// print ready tokens for a village secretary, a town leader and an auditor.
        #[arg(long)]
        demo: bool,
    },
    /// API tokens: create one for a person (shown once), revoke one, list them.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the GraphQL schema (SDL), as schema.graphql keeps it.
    Schema,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Rebuild read models from the log into fresh tables (blue/green): the tables in use
    /// keep serving until the new ones have caught up with the log, then one transaction
    /// swaps them in and drops the old ones. An interrupted rebuild resumes where it stopped.
    Rebuild {
        /// The read models to rebuild: village_board, screening_stats, audit_trail,
        /// town_dashboard, procedure_register, bid_board, directory, catalogue, leaderboard.
        names: Vec<String>,
        /// Rebuild every read model.
        #[arg(long, conflicts_with = "names")]
        all: bool,
        /// With --all on PostgreSQL: write at most this many read models at once. By
        /// default all of them while the log is quiet, and one at a time while a server is
        /// appending to it, so that commands do not wait on the rebuild.
        #[arg(long, requires = "all", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
    },
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

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token for a person in post (or `system`, the built-in administrator over
    /// the whole city). The token is printed once, alone on standard output.
    Create {
        /// The person's id, as appointed (CadreAppointed).
        #[arg(long)]
        person: String,
        /// Days until it expires (1 to 3650).
        #[arg(long, default_value_t = 30)]
        expires: u32,
        /// A note on what the token is for (shown by `token list`).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Revoke a token by its id (from `token create` or `token list`), at once.
    Revoke {
        /// The token's id.
        id: String,
    },
    /// List the tokens (ids, people, states, expiries; never the tokens themselves).
    List,
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
        demo: false,
    });
    if let Command::Schema = command {
        print!("{}", xingcun_api::sdl());
        return Ok(ExitCode::SUCCESS);
    }
    // Caught from before the first line is printed, so a Ctrl-C at any point of a run that
    // writes is answered with what was written.
    let mut interrupt = match command {
        Command::Import { .. }
        | Command::Simulate { .. }
        | Command::Rebuild { .. }
        | Command::Serve { demo: true, .. } => Some(Interrupt::install()?),
        _ => None,
    };
    if let Command::Serve { listen, demo: true } = &command {
        let listen = resolve_listen(listen).await?;
        let mut interrupt = interrupt.take().context("interrupt handler")?;
        return serve::demo(listen, &mut interrupt, shutdown_signal()).await;
    }
    eprintln!("xingcun: using {}", describe_database(url));
    let clock = xingcun_store::process_clock;
    match command {
        Command::Schema => unreachable!("answered above"),
        Command::Token(token) => {
            let store = Store::open_existing(url, clock())
                .await
                .context("opening the event store")?;
            match token {
                TokenCommand::Create {
                    person,
                    expires,
                    label,
                } => serve::create_token(&store, &person, expires, &label).await,
                TokenCommand::Revoke { id } => serve::revoke_token(&store, &id).await,
                TokenCommand::List => serve::list_tokens(&store).await,
            }
        }
        Command::Serve { listen, .. } => {
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
            serve::serve(store, listen, shutdown_signal(), Vec::new()).await
        }
        Command::Rebuild { names, all, jobs } => {
            refuse_foreign_tables(url, cli.allow_foreign_tables).await?;
            let store = Store::connect(url, clock())
                .await
                .context("opening the event store")?;
            let mut interrupt = interrupt.take().context("interrupt handler")?;
            let pace = jobs.map_or(xingcun_projections::Pace::Auto, |n| {
                xingcun_projections::Pace::Width(n.into())
            });
            rebuild(store, names, all, pace, &mut interrupt).await
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

/// `xingcun rebuild`: each named read model (or all) built afresh, with a progress bar.
///
/// Ctrl-C stops it between or inside a batch: the batch in flight rolls back, the build
/// keeps what it committed, and the tables in service are untouched; the same command
/// resumes it.
async fn rebuild(
    store: Store,
    names: Vec<String>,
    all: bool,
    pace: xingcun_projections::Pace,
    interrupt: &mut Interrupt,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::select! {
        runtime = Runtime::open(store, xingcun_projections::all()) => {
            runtime.context("opening the read models")?
        }
        () = interrupt.recv() => {
            eprintln!("interrupted while opening the read models: nothing was rebuilt. Run the same command again.");
            return Ok(ExitCode::from(INTERRUPTED));
        }
    };
    let known: Vec<&str> = runtime.projections().iter().map(|p| p.name()).collect();
    if names.is_empty() && !all {
        anyhow::bail!(
            "name the read models to rebuild, or --all (known: {})",
            known.join(", ")
        );
    }
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let draw = move |label: &str, progress: xingcun_projections::Progress| {
        let secs = progress.elapsed.as_secs_f64().max(0.001);
        let rate = progress.position as f64 / secs;
        let left = progress.head.saturating_sub(progress.position) as f64 / rate.max(1.0);
        let line = format!(
            "[{label}] {}/{} events, {rate:.0} events/s, {left:.0} s left",
            progress.position, progress.head
        );
        if terminal {
            eprint!("\r{line}   ");
        } else {
            eprintln!("{line}");
        }
    };
    if all {
        // One pass over the log for every read model: each batch is read once.
        let started = Instant::now();
        let mut last_report = Instant::now();
        let reached = std::cell::Cell::new(0);
        let mut report = |progress: xingcun_projections::Progress| {
            reached.set(progress.position);
            if last_report.elapsed().as_millis() >= 500 {
                last_report = Instant::now();
                draw("all", progress);
            }
        };
        let rebuilt = runtime.catch_up_all_paced(true, pace, &mut report);
        tokio::select! {
            done = rebuilt => done?,
            () = interrupt.recv() => {
                eprintln!(
                    "\ninterrupted: the read models were rebuilt up to position {}; the read models in \
                     service are unchanged. Run the same command again to resume.",
                    reached.get()
                );
                return Ok(ExitCode::from(INTERRUPTED));
            }
        }
        if terminal {
            eprintln!();
        }
        println!(
            "rebuilt {} in {:.1} s (now serving the new builds)",
            known.join(", "),
            started.elapsed().as_secs_f64()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let chosen = {
        names
            .iter()
            .map(|n| {
                runtime
                    .find(n)
                    .with_context(|| format!("known read models: {}", known.join(", ")))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    for p in chosen {
        let started = Instant::now();
        let mut last_report = Instant::now();
        let name = p.name();
        let reached = std::cell::Cell::new(0);
        let mut report = |progress: xingcun_projections::Progress| {
            reached.set(progress.position);
            if last_report.elapsed().as_millis() < 500 {
                return;
            }
            last_report = Instant::now();
            draw(name, progress);
        };
        let rebuilt = runtime.catch_up_one(p.as_ref(), true, &mut report);
        tokio::select! {
            done = rebuilt => done?,
            () = interrupt.recv() => {
                eprintln!(
                    "\ninterrupted: {name} was rebuilt up to position {}; the read models in \
                     service are unchanged. Run the same command again to resume.",
                    reached.get()
                );
                return Ok(ExitCode::from(INTERRUPTED));
            }
        }
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
