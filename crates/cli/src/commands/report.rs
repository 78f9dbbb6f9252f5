//! `proxyless report RUN_DIR`: the HTML report of a search run and its pictures.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use proxyless_report::write_run_report;

/// Write the HTML report of a search run (RUN_DIR/report/index.html and its pictures).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory of a search (finished or not).
    pub run_dir: PathBuf,
}

/// Runs `report`.
pub fn run(args: &ReportArgs) -> Result<()> {
    let page = write_run_report(&args.run_dir)?;
    println!("{}", page.display());
    Ok(())
}
