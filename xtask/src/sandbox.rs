//! Dispatch of `cargo xtask sandbox <command>`: each arm is a few lines calling its module.

use std::process::ExitCode;

use anyhow::{Context, Result};
use xshell::Shell;

use crate::cli::{Cli, Command, HostsCommand, ImagesCommand, ScenarioCommand, Task, UpArgs};
use crate::engine::Engine;
use crate::stack::{self, Sandbox, Selector, UpOptions};
use crate::{hosts, images, play, setup, ui};

pub fn dispatch(sh: &Shell, cli: Cli) -> Result<ExitCode> {
    let args = match cli.task {
        Task::Sandbox(args) => args,
        Task::Test(t) => return crate::testsuite::run(sh, t.yes, t.unit).map(|()| ExitCode::SUCCESS),
    };
    let sel = Selector { name: args.name.clone(), engine: args.engine };
    let command = args.command.unwrap_or(Command::Play(crate::cli::PlayArgs {
        up: UpArgs { images: default_image_args(), server_port: None, registry_port: None, client: None, yes: false },
        run: crate::cli::RunArgs { step: false, keep_going: false, json: None, junit: None },
    }));
    match command {
        Command::Up(a) => {
            let sb = stack::up(sh, &sel, &up_options(&a)).context("bringing the sandbox up")?;
            ui::status("Up", format!("sandbox `{}` on {} (state: {})", sb.name, sb.engine.kind, sb.dir.path.display()));
        }
        Command::Down => match Sandbox::open(sh, &sel)? {
            Some(sb) => stack::down(sh, &sb)?,
            None => ui::info("Down", format!("no sandbox named `{}`: nothing to do", sel.name)),
        },
        Command::Destroy => stack::destroy(sh, &sel)?,
        Command::Status(j) => {
            let sb = Sandbox::open_required(sh, &sel)?;
            let st = stack::status(sh, &sb)?;
            if j.json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                print_status(&st);
            }
            if !st.services.iter().all(|s| s.ready) {
                return Ok(ExitCode::from(3));
            }
        }
        Command::Logs(a) => {
            let sb = Sandbox::open_required(sh, &sel)?;
            sb.spec.service(&a.service)?;
            let name = sb.container(&a.service);
            let bin = &sb.engine.bin;
            let tail = a.tail.to_string();
            let follow: &[&str] = if a.follow { &["--follow"] } else { &[] };
            xshell::cmd!(sh, "{bin} logs --tail {tail} {follow...} {name}")
                .quiet()
                .run()
                .with_context(|| format!("reading the log of {}", a.service))?;
        }
        Command::Versions(j) => {
            let sb = Sandbox::open_required(sh, &sel)?;
            let v = crate::versions::collect(sh, &sb)?;
            if j.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (k, val) in &v {
                    println!("{k:<16} {val}");
                }
            }
        }
        Command::Images(a) => images_command(sh, &sel, a.command)?,
        Command::Setup(a) => {
            let engines = match (a.all_engines, sel.engine) {
                (true, _) | (false, None) => vec![crate::engine::EngineKind::Docker, crate::engine::EngineKind::Podman],
                (false, Some(k)) => vec![k],
            };
            setup::setup(sh, &engines, a.yes)?;
        }
        Command::Doctor => {
            if !setup::doctor(sh)? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Play(a) => return play::play(sh, &sel, &up_options(&a.up), &a.run),
        Command::Scenario(a) => match a.command {
            ScenarioCommand::List(j) => play::list(j.json)?,
            ScenarioCommand::Run { names, all, files, run } => return play::run(sh, &sel, &names, all, &files, &run),
        },
        Command::Shell => return play::shell(sh, &sel),
        Command::Hosts(a) => match a.command {
            HostsCommand::Add => report_hosts(hosts::add(&a.hosts_file, a.dry_run)?, a.dry_run, "Added", &a.hosts_file),
            HostsCommand::Remove => {
                report_hosts(hosts::remove(&a.hosts_file, a.dry_run)?, a.dry_run, "Removed", &a.hosts_file)
            }
            HostsCommand::Show(j) => {
                let st = hosts::status(&a.hosts_file)?;
                if j.json {
                    println!("{}", serde_json::to_string_pretty(&st)?);
                } else {
                    println!("block present: {}{}", st.present, if st.stale { " (stale)" } else { "" });
                    for f in &st.foreign {
                        println!("foreign mapping: {f}");
                    }
                }
            }
        },
        Command::Env => {
            let sb = Sandbox::open_required(sh, &sel)?;
            print!("{}", crate::hostenv::exports(&sb));
        }
        Command::Bench(a) => crate::bench::run(sh, &sel, &a)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn default_image_args() -> crate::cli::ImageSourceArgs {
    let source = std::env::var("TRUST_SANDBOX_IMAGES")
        .ok()
        .and_then(|v| <images::SourceKind as clap::ValueEnum>::from_str(&v, true).ok())
        .unwrap_or(images::SourceKind::Auto);
    crate::cli::ImageSourceArgs { source, mirror: vec![] }
}

pub fn up_options(a: &UpArgs) -> UpOptions {
    UpOptions {
        images: a.images.source,
        image_opts: images::Options { mirrors: a.images.mirror.clone(), rebuild: false },
        server_port: a.server_port,
        registry_port: a.registry_port,
        client: a.client,
        yes: a.yes,
    }
}

fn report_hosts(outcome: hosts::Outcome, dry_run: bool, verb: &str, path: &std::path::Path) {
    if !outcome.diff.is_empty() {
        print!("{}", outcome.diff);
    }
    match (outcome.changed, dry_run) {
        (false, _) => ui::info("Unchanged", format!("{} already as wanted", path.display())),
        (true, true) => ui::info("Dry run", format!("{} left untouched", path.display())),
        (true, false) => ui::status(verb, format!("trust-sandbox block in {}", path.display())),
    }
}

fn print_status(st: &stack::Status) {
    println!("sandbox {} on {} (id {}, state {})", st.name, st.engine, st.id, st.state_dir);
    println!("{:<14} {:<9} {:<6} {:<28} ALIASES", "SERVICE", "STATE", "READY", "PUBLISHED");
    for s in &st.services {
        println!(
            "{:<14} {:<9} {:<6} {:<28} {}",
            s.service,
            s.state,
            if s.ready { "yes" } else { "no" },
            s.published.join(","),
            s.aliases.join(",")
        );
        if !s.detail.is_empty() {
            println!("    {}", s.detail);
        }
    }
}

fn images_command(sh: &Shell, sel: &Selector, command: ImagesCommand) -> Result<()> {
    let engine_for = |sh: &Shell| -> Result<Engine> {
        match Sandbox::open(sh, sel)? {
            Some(sb) => Ok(sb.engine),
            None => Engine::detect(sh, sel.engine),
        }
    };
    match command {
        ImagesCommand::Build { images: src, rebuild } => {
            let engine = engine_for(sh)?;
            let spec = crate::spec::load()?;
            let refs =
                images::ensure(sh, &engine, &spec, src.source, &images::Options { mirrors: src.mirror, rebuild })?;
            for (image, reference) in refs {
                println!("{image:<10} {reference}");
            }
        }
        ImagesCommand::List(j) => {
            let list = images::list(sh, &engine_for(sh)?)?;
            if j.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for l in list {
                    println!(
                        "{:<10} {:<52} {:<10} {}",
                        l.image,
                        l.reference,
                        l.size,
                        if l.current { "current" } else { "stale" }
                    );
                }
            }
        }
        ImagesCommand::Rm { stale } => {
            let n = images::remove(sh, &engine_for(sh)?, stale)?;
            ui::status("Removed", format!("{n} image(s)"));
        }
        ImagesCommand::Lock { update } => {
            let mut lock = crate::lock::load()?;
            if update {
                let changes = images::update_lock(sh, &mut lock)?;
                if changes.is_empty() {
                    ui::info("Unchanged", "every pin is what the mirror serves");
                } else {
                    std::fs::write(crate::lock::path(), lock.render()?).context("writing images.lock")?;
                    for c in changes {
                        ui::status("Updated", c);
                    }
                }
            } else {
                for (name, image) in &lock.images {
                    println!(
                        "{name:<10} {}  {}",
                        lock.tag(name)?,
                        image.packages.iter().map(|(p, v)| format!("{p}={v}")).collect::<Vec<_>>().join(" ")
                    );
                }
            }
        }
    }
    Ok(())
}
