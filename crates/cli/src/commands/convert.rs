//! `proxyless convert`: between architecture text, architecture JSON and `net.config`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use proxyless_space::{Architecture, NetSpec, SearchSpace};

use crate::description::{self, Description};
use crate::output::{print_stdout, write_atomic};

/// The encodings of an architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Compact text: `k3e3 k3e6 zero | ...`.
    Text,
    /// JSON: the space's name and a label -> choice map.
    Json,
    /// The official `net.config` JSON.
    NetConfig,
}

/// Convert an architecture or a net.config to another encoding.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// A net.config JSON or an architecture (JSON or text).
    pub file: String,
    /// The space (preset or .toml): needed for architecture text, and to turn a net.config
    /// back into an architecture.
    #[arg(long)]
    pub space: Option<String>,
    /// The encoding to write.
    #[arg(long, value_enum)]
    pub to: Format,
    /// Write here instead of standard output (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Renders `arch` of `space` (or the bare network `spec`) in `format`.
pub fn render(
    format: Format,
    spec: &NetSpec,
    arch: Option<&(Architecture, SearchSpace)>,
) -> Result<String> {
    Ok(match (format, arch) {
        (Format::NetConfig, _) => spec.to_net_config_json(),
        (Format::Text, Some((a, s))) => format!("{}\n", a.to_text(s)),
        (Format::Json, Some((a, s))) => a.to_json(s),
        (_, None) => bail!("a net.config becomes an architecture only with --space"),
    })
}

/// Runs `convert`.
pub fn run(args: &ConvertArgs) -> Result<()> {
    let description = description::read(&args.file, args.space.as_deref())?;
    let refusal = description.not_buildable();
    let Description::Net { spec, mut arch, .. } = description else {
        bail!("{}: {}", args.file, refusal.unwrap_or_default());
    };
    if arch.is_none()
        && let Some(name) = &args.space
    {
        let space = proxyless_space::presets::resolve(name)?;
        arch = Some((
            Architecture::from_net_spec(&spec, &space, &args.file)?,
            space,
        ));
    }
    let text = render(args.to, &spec, arch.as_ref())?;
    emit(&text, args.out.as_ref())
}

/// Prints `text` or writes it atomically to `out`.
pub fn emit(text: &str, out: Option<&PathBuf>) -> Result<()> {
    match out {
        Some(path) => write_atomic(path, text.as_bytes()),
        None => print_stdout(text),
    }
}
