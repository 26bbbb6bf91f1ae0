//! The verbs that do more than open a store: export, verify, import, simulate. Progress
//! lines are drawn only on a terminal; Ctrl-C during import and simulate ends with what was
//! written and what to do next.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use xingcun_simulate::{FiguresCounter, SimConfig, SimError};
use xingcun_store::transfer::{ImportProgress, export_jsonl, import_jsonl};
use xingcun_store::{EventLog, Executor, ManualClock, Store, verify_with_progress};

use crate::database::start_over_hint;
use crate::regions;

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// Progress lines are for a person watching a terminal, not for logs.
fn show_progress() -> bool {
    std::io::stderr().is_terminal()
}

/// The code of the village `given` names (a code, or a name unique in `town` or the log).
pub async fn resolve_village(
    store: &Store,
    given: &str,
    town: Option<&str>,
) -> anyhow::Result<String> {
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
pub async fn export(
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

pub async fn verify(store: &Store) -> anyhow::Result<ExitCode> {
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

pub async fn import(
    store: &Store,
    file: &Path,
    interrupt: &mut Interrupt,
) -> anyhow::Result<ExitCode> {
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
pub async fn settled_head(store: &Store) -> anyhow::Result<u64> {
    let mut head = store.watch_head();
    while let Ok(Ok(())) = tokio::time::timeout(Duration::from_millis(500), head.changed()).await {}
    Ok(store.head_position().await?)
}

/// `xingcun simulate`: the store runs on the simulator's clock.
pub async fn simulate_into(
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

/// Ctrl-C (SIGINT), caught from the moment it is installed: a Ctrl-C that comes while the
/// database is being opened is held until the command looks, instead of killing the
/// process half-way.
pub struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    pub fn install() -> anyhow::Result<Self> {
        Ok(Interrupt {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .context("installing the Ctrl-C handler")?,
        })
    }

    pub async fn recv(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
