use crate::cli::RunArgs;
use crate::stack::{Selector, UpOptions};
use anyhow::{bail, Result};
use std::process::ExitCode;
use xshell::Shell;
pub fn play(_: &Shell, _: &Selector, _: &UpOptions, _: &RunArgs) -> Result<ExitCode> {
    bail!("todo")
}
pub fn list(_: bool) -> Result<()> {
    bail!("todo")
}
pub fn run(_: &Shell, _: &Selector, _: &[String], _: bool, _: &RunArgs) -> Result<ExitCode> {
    bail!("todo")
}
pub fn shell(_: &Shell, _: &Selector) -> Result<ExitCode> {
    bail!("todo")
}
