//! `proxyless draw`: a network as the paper draws it (SVG or PNG).

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::Args;
use proxyless_report::{draw_network, draw_tree_net, svg_to_png};

use crate::description::{self, Description};
use crate::output::write_atomic;

/// Draw a network: one box per block, width by kernel size, colour by expansion ratio (a
/// tree network: its backbone, and each stage's first cell as a tree).
#[derive(Debug, Args)]
pub struct DrawArgs {
    #[command(flatten)]
    pub network: description::NetworkArgs,
    /// The title (default: the file name).
    #[arg(long)]
    pub title: Option<String>,
    /// Where to write the picture (.svg or .png, by its extension), atomically.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `draw`.
pub fn run(args: &DrawArgs) -> Result<()> {
    let png = match args.out.extension().and_then(|e| e.to_str()) {
        Some("svg") => false,
        Some("png") => true,
        other => bail!(
            "{}: pictures are written as SVG (.svg) or PNG (.png){}",
            args.out.display(),
            other.map_or(String::new(), |e| format!("; .{e} is neither"))
        ),
    };
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| args.network.file.clone());
    let file = &args.network.file;
    let svg = match description::read(file, args.network.space.as_deref())? {
        Description::TreeNet(net) => draw_tree_net(&net, &title),
        _ => {
            let (spec, resolution) = args.network.load()?;
            draw_network(&spec, resolution, &title)
        }
    }
    .map_err(|e| anyhow!("{file}: {e}"))?;
    if png {
        let bytes = svg_to_png(&svg, 2.0).map_err(|e| anyhow!("{}: {e}", args.out.display()))?;
        write_atomic(&args.out, &bytes)?;
    } else {
        write_atomic(&args.out, svg.as_bytes())?;
    }
    println!("{}", args.out.display());
    Ok(())
}
