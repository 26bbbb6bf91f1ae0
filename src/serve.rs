//! `xingcun serve` (with `--demo`), `xingcun token …` and `xingcun schema`.
//!
//! Decisions:
//! - `serve` runs, beside the HTTP server, the read models' runners and the dispatch
//!   fan-out; all stop at a batch boundary on SIGTERM or Ctrl-C, after the server has
//!   stopped taking requests and closed its WebSocket connections (code 1001).
//! - `serve --demo` writes the `village` preset (澄潭街道, four villages, three years) into a
//!   new SQLite file in the system's temporary directory, removed when the server stops,
//!   and prints a token for a village secretary, a town leader and an auditor, valid for a
//!   day, with the cockpit's and GraphiQL's addresses; the cockpit's sign-in page offers
//!   the same tokens (`/demo-tokens`, answered only in demo mode). It ignores `--database-url`: a demo never writes into
//!   a real database.
//! - `token create --person ID` prints the token once, on standard output alone (so
//!   `TOKEN=$(xingcun token create --person …)` works); what it is for goes to standard
//!   error. `--person system` is the built-in administrator over the whole city, to enter
//!   the first regions and people through the API. `token revoke ID` takes effect at once,
//!   including on open WebSocket connections (within 5 s).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;
use xingcun_api::cockpit::DemoToken;
use xingcun_api::{Api, AppState};
use xingcun_projections::{Runtime, directory};
use xingcun_simulate::{Preset, SimConfig};
use xingcun_store::{Clock, EventLog, Store, SystemClock};

use crate::commands::{Interrupt, simulate_into};

/// Serve `store` on `listen` until SIGTERM or Ctrl-C. `demo_tokens`: offered on the
/// cockpit's sign-in page (`serve --demo` only; empty otherwise).
pub async fn serve(
    store: Store,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    demo_tokens: Vec<DemoToken>,
) -> anyhow::Result<ExitCode> {
    let cancel = CancellationToken::new();
    let runtime = Arc::new(
        Runtime::open(store.clone(), xingcun_projections::all())
            .await
            .context("opening the read models (on a read-only copy, they need a writable directory beside it)")?,
    );
    let projections = tokio::spawn(runtime.clone().run(cancel.clone()));
    let api = Api::new(runtime, cancel.clone());
    let fanout = (!store.is_read_only()).then(|| {
        tokio::spawn(xingcun_api::fanout::run(
            api.executor.clone(),
            api.db.clone(),
            cancel.clone(),
        ))
    });
    let mut state = AppState::new(api);
    if !demo_tokens.is_empty() {
        state = state.with_demo_tokens(demo_tokens);
    }
    let served = xingcun_api::serve(state, listen, shutdown, cancel.clone())
        .await
        .with_context(|| format!("serving on {listen}"));
    cancel.cancel();
    let _ = projections.await;
    if let Some(f) = fanout {
        let _ = f.await;
    }
    served?;
    Ok(ExitCode::SUCCESS)
}

/// A SQLite file in the temporary directory, removed (with its sidecars) when dropped.
struct DemoFile(PathBuf);

impl Drop for DemoFile {
    fn drop(&mut self) {
        // The log `x.db` and its read models beside it in `x.read.db`, each with its sidecars.
        let log = self.0.display().to_string();
        let read = self.0.with_extension("read.db").display().to_string();
        for name in [&log, &read] {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{name}{suffix}"));
            }
        }
    }
}

/// `serve --demo`.
pub async fn demo(
    listen: SocketAddr,
    interrupt: &mut Interrupt,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<ExitCode> {
    let file =
        DemoFile(std::env::temp_dir().join(format!("xingcun-demo-{}.db", std::process::id())));
    let url = format!("sqlite://{}", file.0.display());
    eprintln!(
        "demo: writing a small real history (澄潭街道, 4 villages, 3 years) into {}",
        file.0.display()
    );
    let config = SimConfig {
        preset: Preset::Village,
        years: 3,
        seed: 1,
        start: chrono::NaiveDate::from_ymd_opt(2023, 1, 1).context("start date")?,
        daily_progress: false,
    };
    let code = simulate_into(&url, &config, interrupt).await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let store = Store::connect(&url, Arc::new(SystemClock))
        .await
        .context("opening the demo database")?;
    let runtime = Runtime::open(store.clone(), xingcun_projections::all()).await?;
    runtime
        .catch_up()
        .await
        .context("building the read models")?;
    let city = xingcun_domain::RegionId::shaoxing();
    let now = SystemClock.now();
    let expires = now + chrono::Duration::days(1);
    println!();
    println!("兴村 demo — tokens valid for one day (send as  Authorization: Bearer <token>):");
    let mut offered = Vec::new();
    for (role, title) in [
        ("village_secretary", "村社书记"),
        ("town_leader", "镇街分管领导"),
        ("auditor", "审计督查"),
    ] {
        let people = directory::in_post(runtime.db(), role, city.as_str()).await?;
        let Some(person) = people.first() else {
            bail!("the demo history has no {role}");
        };
        let (token, _) = store
            .create_token(&person.person, &format!("demo {role}"), now, expires)
            .await?;
        println!(
            "  {title} {} ({}, scope {}):",
            person.name, person.person, person.scope
        );
        println!("    {token}");
        offered.push(DemoToken {
            title: title.to_owned(),
            name: person.name.clone(),
            person: person.person.clone(),
            scope: person.scope.clone(),
            token: token.to_string(),
        });
    }
    println!();
    println!("Cockpit:  http://{listen}/   (驾驶舱; the page offers these tokens)");
    println!("GraphiQL: http://{listen}/graphql   (paste a token in the Headers tab)");
    println!("Try:      {{ me {{ name roleTitle scopeName }} }}");
    println!();
    drop(runtime);
    let result = serve(store, listen, shutdown, offered).await;
    drop(file);
    result
}

/// `token create`.
pub async fn create_token(
    store: &Store,
    person: &str,
    days: u32,
    label: &str,
) -> anyhow::Result<ExitCode> {
    if days == 0 || days > 3650 {
        bail!("--expires takes 1 to 3650 days");
    }
    if person != "system" {
        let runtime = Runtime::open(store.clone(), xingcun_projections::all()).await?;
        runtime
            .catch_up_one(
                &xingcun_projections::directory::Directory,
                false,
                &mut |_| {},
            )
            .await
            .context("reading the directory of people")?;
        match directory::person(runtime.db(), person).await? {
            Some(p) if p.active => eprintln!(
                "token for {} ({}, {} over {})",
                p.name,
                p.person,
                p.role.title(),
                p.scope
            ),
            Some(p) => bail!(
                "{} ({}) has left their post: no token can be made for them",
                p.name,
                p.person
            ),
            None => bail!(
                "no person {person:?} has been appointed (see `xingcun regions` and the log's CadreAppointed events)"
            ),
        }
    } else {
        eprintln!("token for the built-in administrator over the whole city (person `system`)");
    }
    let now = store.clock().now();
    let expires = now + chrono::Duration::days(i64::from(days));
    let (token, record) = store.create_token(person, label, now, expires).await?;
    eprintln!(
        "token id {} expires {} — shown once, keep it safe; revoke with `xingcun token revoke {}`",
        record.token_id,
        record.expires_at.format("%Y-%m-%d %H:%M UTC"),
        record.token_id
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

/// `token revoke`.
pub async fn revoke_token(store: &Store, id: &str) -> anyhow::Result<ExitCode> {
    let id = uuid::Uuid::parse_str(id)
        .with_context(|| format!("{id:?} is not a token id (see `xingcun token list`)"))?;
    if store.revoke_token(id, store.clock().now()).await? {
        println!("revoked {id}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("no active token {id} (unknown, or revoked already)");
        Ok(ExitCode::from(1))
    }
}

/// `token list`.
pub async fn list_tokens(store: &Store) -> anyhow::Result<ExitCode> {
    let now = store.clock().now();
    for t in store.list_tokens().await? {
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at <= now {
            "expired"
        } else {
            "active"
        };
        println!(
            "{}  {:<8} {:<24} expires {}  {}",
            t.token_id,
            state,
            t.person_id,
            t.expires_at.format("%Y-%m-%d"),
            t.label
        );
    }
    Ok(ExitCode::SUCCESS)
}
