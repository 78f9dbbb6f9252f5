//! Reading what a command is pointed at: a space, an architecture or a `net.config`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use proxyless_rundir::RunFiles;
use proxyless_space::{
    Architecture, NetSpec, SearchSpace, TREE_PRESETS, TreeNetConfig, TreeSpace, presets,
};

/// A file (or preset name) given on the command line, read and recognised.
pub enum Description {
    /// A search space (TOML file or preset name).
    Space(SearchSpace),
    /// A concrete network, possibly with the architecture and space it came from.
    Net {
        /// The network.
        spec: NetSpec,
        /// The architecture and its space, when the file was an architecture.
        arch: Option<(Architecture, SearchSpace)>,
        /// What the file was, for messages (`net.config`, `architecture`).
        kind: &'static str,
        /// The input side recorded beside a `net.config` (see [`recorded_resolution`]).
        recorded_resolution: Option<usize>,
    },
    /// The paper's CIFAR-10 network format (`PyramidTreeNet`): read, checked and counted.
    TreeNet(TreeNetConfig),
    /// A tree-cell search space (TOML with a `[cell]` table, or a tree preset name).
    TreeSpace(TreeSpace),
}

impl Description {
    /// Why a command that builds one MBConv network cannot take this description; none for a
    /// network it can build.
    pub fn not_buildable(&self) -> Option<&'static str> {
        match self {
            Description::Space(_) | Description::TreeSpace(_) => {
                Some("a space has no single network; give an architecture or a net.config")
            }
            Description::TreeNet(_) => Some(
                "a PyramidTreeNet (tree cells): `info`, `check`, `train`, `eval`, `export`, \
                 `import` and `predict` take it; this command covers MBConv networks \
                 (ProxylessNASNets) only",
            ),
            Description::Net { .. } => None,
        }
    }

    /// The input side the file implies: the space's; for a `net.config`, which does not
    /// record it, the side recorded beside it, else 224 (ImageNet's, the official nets'),
    /// which it says on standard error. For use when no resolution was given.
    pub fn default_resolution(&self) -> usize {
        match self {
            Description::Space(space) => space.input.resolution,
            // CIFAR-10's side, the only input the format was released for.
            Description::TreeNet(_) => 32,
            Description::TreeSpace(space) => space.input.resolution,
            Description::Net {
                arch: Some((_, space)),
                ..
            } => space.input.resolution,
            Description::Net {
                recorded_resolution: Some(side),
                ..
            } => *side,
            Description::Net { .. } => {
                eprintln!(
                    "note: the net.config does not record its input side, nor does a \
                     space.toml or preprocessing.json beside it: assuming 224 x 224 (give \
                     --resolution)"
                );
                224
            }
        }
    }
}

/// Reads `target`: a preset name, a space TOML, a `net.config` JSON, an architecture JSON or
/// an architecture text. `space` (preset or TOML path) is needed for architecture text and
/// overrides the space an architecture JSON names.
pub fn read(target: &str, space: Option<&str>) -> Result<Description> {
    let path = Path::new(target);
    if !path.exists() {
        if presets::toml(target).is_some() {
            return Ok(Description::Space(presets::load(target)?));
        }
        if let Some(space) = TreeSpace::preset(target) {
            return Ok(Description::TreeSpace(space));
        }
        bail!(
            "{target}: no such file (and not a preset space: {}, {})",
            presets::NAMES.join(", "),
            TREE_PRESETS.join(", ")
        );
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {target}"))?;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if extension == "toml" {
        if TreeSpace::describes(&text) {
            return Ok(Description::TreeSpace(TreeSpace::from_toml_str(
                &text, target,
            )?));
        }
        return Ok(Description::Space(SearchSpace::from_toml_str(
            &text, target,
        )?));
    }
    if extension == "json" || text.trim_start().starts_with('{') {
        return read_json(path, &text, space);
    }
    let Some(space_name) = space else {
        bail!("{target}: an architecture in text form needs --space (a preset or a .toml file)");
    };
    let space = presets::resolve(space_name)?;
    let arch = Architecture::parse(&text, &space, target)?;
    Ok(Description::Net {
        spec: arch.to_net_spec(&space),
        arch: Some((arch, space)),
        kind: "architecture",
        recorded_resolution: None,
    })
}

fn read_json(path: &Path, text: &str, space: Option<&str>) -> Result<Description> {
    let origin = path.display().to_string();
    let value: serde_json::Value =
        serde_json::from_str(text).with_context(|| format!("{origin}: invalid JSON"))?;
    let is_object_with = |key: &str| value.as_object().is_some_and(|o| o.contains_key(key));
    if value.get("name").and_then(|n| n.as_str()) == Some("PyramidTreeNet") {
        return Ok(Description::TreeNet(TreeNetConfig::from_json_str(
            text, &origin,
        )?));
    }
    if is_object_with("first_conv") || is_object_with("blocks") {
        let spec = NetSpec::from_net_config_str(text, &origin)?;
        return Ok(Description::Net {
            spec,
            arch: None,
            kind: "net.config",
            recorded_resolution: recorded_resolution(path),
        });
    }
    if is_object_with("choices") {
        let space = match space {
            Some(name) => presets::resolve(name)?,
            None => {
                let name = Architecture::json_space_name(text, &origin)?;
                resolve_relative(&name, path)?
            }
        };
        let arch = Architecture::from_json_str(text, &space, &origin)?;
        return Ok(Description::Net {
            spec: arch.to_net_spec(&space),
            arch: Some((arch, space)),
            kind: "architecture",
            recorded_resolution: None,
        });
    }
    bail!(
        "{origin}: expected a net.config (with first_conv, blocks, feature_mix_layer, classifier) \
         or an architecture (with space and choices)"
    )
}

/// The input side recorded beside the `net.config` at `path`: the `input` of an export's
/// `preprocessing.json` in the same folder, or the resolution of the space of the search run
/// that derived it (the same folder, or the one above: `RUN/final/net.config`).
fn recorded_resolution(path: &Path) -> Option<usize> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let preprocessing = std::fs::read_to_string(dir.join("preprocessing.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["input"][1].as_u64())
        .map(|side| side as usize);
    preprocessing.or_else(|| {
        [
            RunFiles::new(dir).space(),
            RunFiles::new(dir.join("..")).space(),
        ]
        .iter()
        .find_map(|p| SearchSpace::from_toml_file(p).ok())
        .map(|space| space.input.resolution)
    })
}

/// A space named in a file: a preset, or a TOML path relative to that file.
fn resolve_relative(name: &str, file: &Path) -> Result<SearchSpace> {
    if presets::toml(name).is_some() {
        return Ok(presets::load(name)?);
    }
    let relative: PathBuf = file.parent().unwrap_or(Path::new(".")).join(name);
    if relative.exists() {
        return Ok(SearchSpace::from_toml_file(relative)?);
    }
    Ok(presets::resolve(name)?)
}

/// A network named on the command line: a net.config or an architecture, the space of an
/// architecture in text form, and the input side.
#[derive(Debug, clap::Args)]
pub struct NetworkArgs {
    /// A net.config or an architecture (JSON, or text with --space).
    pub file: String,
    /// The space of an architecture in text form (preset name or .toml file).
    #[arg(long)]
    pub space: Option<String>,
    /// Input side (default: the space's; 224 for a net.config).
    #[arg(long)]
    pub resolution: Option<usize>,
}

impl NetworkArgs {
    /// The network and its input side.
    pub fn load(&self) -> Result<(NetSpec, usize)> {
        network(&self.file, self.space.as_deref(), self.resolution)
    }
}

/// The network of an architecture or a net.config (a space is an error), and the resolution:
/// `resolution` or the description's default.
pub fn network(
    file: &str,
    space: Option<&str>,
    resolution: Option<usize>,
) -> Result<(proxyless_space::NetSpec, usize)> {
    let description = read(file, space)?;
    let resolution = resolution.unwrap_or_else(|| description.default_resolution());
    let refusal = description.not_buildable();
    match description {
        Description::Net { spec, .. } => Ok((spec, resolution)),
        _ => bail!("{file}: {}", refusal.unwrap_or_default()),
    }
}
