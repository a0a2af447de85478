use anyhow::{bail, Result};
use xshell::Shell;
pub fn run(_: &Shell, _: &crate::stack::Selector, _: &crate::cli::BenchArgs) -> Result<()> {
    bail!("todo")
}
