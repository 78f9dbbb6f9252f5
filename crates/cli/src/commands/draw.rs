//! `proxyless draw`: a network as the paper draws it (SVG).

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::Args;
use proxyless_report::draw_network;

use crate::description;
use crate::output::write_atomic;

/// Draw a network: one box per block, width by kernel size, colour by expansion ratio.
#[derive(Debug, Args)]
pub struct DrawArgs {
    /// A net.config or an architecture (JSON, or text with --space).
    pub file: String,
    /// The space of an architecture in text form.
    #[arg(long)]
    pub space: Option<String>,
    /// Input side for the feature sizes (default: the space's; 224 for a net.config).
    #[arg(long)]
    pub resolution: Option<usize>,
    /// The title (default: the file name).
    #[arg(long)]
    pub title: Option<String>,
    /// Where to write the picture (.svg), atomically.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `draw`.
pub fn run(args: &DrawArgs) -> Result<()> {
    match args.out.extension().and_then(|e| e.to_str()) {
        Some("svg") => {}
        other => bail!(
            "{}: pictures are written as SVG (.svg){}",
            args.out.display(),
            other.map_or(String::new(), |e| format!("; .{e} is not supported"))
        ),
    }
    let (spec, resolution) =
        description::network(&args.file, args.space.as_deref(), args.resolution)?;
    let title = args.title.clone().unwrap_or_else(|| args.file.clone());
    let svg = draw_network(&spec, resolution, &title).map_err(|e| anyhow!("{}: {e}", args.file))?;
    write_atomic(&args.out, svg.as_bytes())?;
    println!("{}", args.out.display());
    Ok(())
}
