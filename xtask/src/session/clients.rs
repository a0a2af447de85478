//! `scenario run --clients`: the scenarios once per docker CLI, the client switched between runs
//! the way `up --client-cli` switches it (only the client container is recreated; its trust data
//! stays), the sandbox's own choice put back at the end, and the scenario × client matrix checked
//! against `xtask/data/client-matrix.toml`.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::{reports, Options};
use crate::images::client_cli::{self, Choice};
use crate::images::{self, SourceKind};
use crate::sandbox::{lifecycle, status, Sandbox, Selector, UpOptions};
use crate::scenario::matrix::{self, Column, Matrix, Recorded};
use crate::scenario::{Report, Scenario};
use crate::signals;
use crate::ui;

/// What a signal makes the matrix do, said when it comes.
const STOPPING: &str = "killing the running step's processes, removing the scenario's containers, putting the client's docker CLI back, then writing the matrix so far";

/// `all` (every pinned CLI), pinned IDs and `file:PATH`, in the order given, each once.
pub fn parse(clients: &[String], pinned: &[client_cli::Cli]) -> Result<Vec<Choice>> {
    let mut out: Vec<Choice> = Vec::new();
    for c in clients.iter().map(|c| c.trim()) {
        let more = if c == "all" {
            pinned.iter().map(|p| Choice::Pinned(p.id.clone())).collect()
        } else {
            vec![Choice::parse(c).map_err(anyhow::Error::msg).context("--clients")?]
        };
        for m in more {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    if out.is_empty() {
        bail!("--clients needs `all` or client CLIs (e.g. 20.10,28.5 or file:PATH)");
    }
    Ok(out)
}

/// What `up` is asked for to switch the client's CLI (and nothing else).
fn switch(choice: Option<Choice>) -> UpOptions {
    UpOptions {
        images: SourceKind::default_for_up(),
        image_opts: images::Options::default(),
        server_port: None,
        registry_port: None,
        client: None,
        client_cli: Some(choice),
        // Plain asks for nothing: an existing sandbox keeps its registry's TLS and auth.
        registry: Default::default(),
        yes: false,
    }
}

/// Plays `scenarios` once per client in `clients`, prints the matrix, writes it as JSON (and
/// every client's steps as JUnit), and puts the sandbox's own client CLI back however the run
/// ends; the exit code says whether every cell is as recorded, or which signal ended the run.
pub fn run(sh: &Shell, sel: &Selector, scenarios: &[Scenario], clients: &[String], opts: &Options) -> Result<ExitCode> {
    if opts.step {
        bail!("--step and --clients do not go together: pick one client (`up --client-cli ID`), then `scenario run --step`");
    }
    reports::check_paths(opts)?;
    let spec = crate::table::load()?;
    let lock = images::lock::load()?;
    let choices = parse(clients, &client_cli::catalogue(&lock)?)?;
    // Every client is checked (a file's version, an ID in the lock) before the first switch.
    for c in &choices {
        client_cli::plan(&spec, &lock, Some(c))?;
    }
    let sb = Sandbox::open_required(sh, sel)?;
    if !status::all_ready(sh, &sb) {
        bail!("sandbox `{}` is not fully up: run `cargo xtask sandbox up` (see `status`)", sb.name);
    }
    let original = sb.state.client_cli.clone();
    signals::catch(STOPPING)?;
    let mut runs: Vec<(Column, Report)> = Vec::new();
    let mut teardown: Vec<String> = Vec::new();
    let played = (|| -> Result<()> {
        for choice in &choices {
            if signals::caught().is_some() {
                break;
            }
            ui::status("Client", format!("docker CLI {choice}: switching the client, then the scenarios"));
            let sb = lifecycle::up(sh, sel, &switch(Some(choice.clone())))
                .with_context(|| format!("switching the client to docker CLI {choice}"))?;
            let (report, done) = super::play(sh, &sb, scenarios, opts, ui::printer(), true)?;
            teardown.extend(done);
            let cli = report.client_cli.clone().unwrap_or_default();
            runs.push((Column { id: choice.to_string(), cli }, report));
        }
        Ok(())
    })();
    // The sandbox's own choice comes back whatever happened (a recreated client, trust data
    // kept), also after a signal: its waits must not stop at the signal that asked for it.
    let back = original.as_ref().map_or_else(|| "the image's own".to_string(), Choice::to_string);
    ui::status("Client", format!("back to docker CLI {back}"));
    let restored = signals::cleanup(|| lifecycle::up(sh, sel, &switch(original)));
    let signal = signals::caught();
    match (&played, signal) {
        (Err(e), Some(sig)) => teardown.push(format!("stopped ({e:#}) by {sig}")),
        (Err(_), None) => {
            played?;
        }
        (Ok(()), _) => {}
    }
    restored.with_context(|| format!("putting the client's docker CLI back to {back}"))?;
    teardown.push(format!("the client runs docker CLI {back} again"));

    let engine = runs.first().map(|(_, r)| r.engine.clone()).unwrap_or_default();
    let mut m = matrix::build(&engine, runs, &Recorded::load()?);
    m.interrupted = signal.map(|s| s.name().to_string());
    let text = matrix::table(&m);
    if opts.json.as_deref() == Some("-") {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    let masker = crate::step::mask::Masker::new(&sb.secrets()?.values());
    let written = reports::write_as(&m, &combined(&m), opts, &masker)?;
    if let Some(sig) = signal {
        return Ok(super::say_interrupted(sig, &teardown, "the matrix", &written));
    }
    if m.as_recorded {
        ui::status("Matches", "every cell is as xtask/data/client-matrix.toml and the README state");
        Ok(ExitCode::SUCCESS)
    } else {
        ui::warn("some cells differ from xtask/data/client-matrix.toml (marked above)");
        Ok(ExitCode::FAILURE)
    }
}

/// One report of every client's scenarios for JUnit: each suite named `<scenario> [<client>]`.
fn combined(m: &Matrix) -> Report {
    let first = m.reports.first();
    let mut scenarios = Vec::new();
    for (col, report) in m.clients.iter().zip(&m.reports) {
        for s in &report.scenarios {
            let mut s = s.clone();
            s.name = format!("{} [{}]", s.name, col.id);
            scenarios.push(s);
        }
    }
    let mut report = Report::new(
        &m.engine,
        first.map_or("", |r| r.started_at.as_str()),
        first.map_or("", |r| r.run_id.as_str()),
        scenarios,
    );
    report.interrupted = m.interrupted.clone();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_names_every_pinned_cli_and_the_rest_is_parsed() {
        let pinned = client_cli::catalogue(&images::lock::load().unwrap()).unwrap();
        let ids = |v: Vec<Choice>| v.iter().map(Choice::to_string).collect::<Vec<_>>();
        assert_eq!(ids(parse(&["all".into()], &pinned).unwrap()), ["20.10", "26.1", "28.5"]);
        assert_eq!(
            ids(parse(&["28.5".into(), "all".into(), "file:/opt/docker".into()], &pinned).unwrap()),
            ["28.5", "20.10", "26.1", "file:/opt/docker"]
        );
        assert!(parse(&[], &pinned).is_err());
        let err = format!("{:#}", parse(&["latest".into()], &pinned).unwrap_err());
        assert!(err.contains("--clients") && err.contains("file:PATH"), "{err}");
    }

    #[test]
    fn switching_asks_up_for_the_client_cli_alone() {
        let o = switch(None);
        assert_eq!(o.client_cli, Some(None), "back to the image's own");
        assert!(o.server_port.is_none() && o.registry_port.is_none() && o.client.is_none());
    }
}
