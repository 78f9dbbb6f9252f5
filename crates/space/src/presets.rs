//! The spaces that ship with proxyless, embedded from `configs/spaces/`.

use std::path::Path;

use crate::SearchSpace;
use crate::error::{Error, Result};

/// Names of the preset spaces, in the order the CLI, tests and docs list them.
pub const NAMES: [&str; 3] = ["imagenet", "fmnist", "cifar10"];

/// The TOML text of a preset, or `None` for an unknown name.
pub fn toml(name: &str) -> Option<&'static str> {
    match name {
        "imagenet" => Some(include_str!("../presets/imagenet.toml")),
        "fmnist" => Some(include_str!("../presets/fmnist.toml")),
        "cifar10" => Some(include_str!("../presets/cifar10.toml")),
        _ => None,
    }
}

/// Loads a preset by name.
pub fn load(name: &str) -> Result<SearchSpace> {
    let text = toml(name).ok_or_else(|| {
        Error::invalid(
            "arguments",
            "space",
            format!(
                "unknown preset '{name}'; expected one of {} or a path to a .toml file",
                NAMES.join(", ")
            ),
        )
    })?;
    SearchSpace::from_toml_str(text, &format!("preset '{name}'"))
}

/// Loads a preset by name, or a space from a TOML file when `name_or_path` is not a preset;
/// `NAME@RESOLUTION` (`imagenet@64`) is that space at another input resolution.
pub fn resolve(name_or_path: &str) -> Result<SearchSpace> {
    if toml(name_or_path).is_some() {
        return load(name_or_path);
    }
    if let Some((name, side)) = name_or_path.rsplit_once('@')
        && !Path::new(name_or_path).exists()
    {
        let resolution = side
            .parse::<usize>()
            .ok()
            .filter(|&r| r > 0)
            .ok_or_else(|| {
                Error::invalid(
                    "arguments",
                    "space",
                    format!(
                        "'{name_or_path}': expected NAME@RESOLUTION with a positive resolution"
                    ),
                )
            })?;
        let mut space = resolve(name)?;
        space.input.resolution = resolution;
        let origin = format!("space '{name_or_path}'");
        return SearchSpace::from_toml_str(&space.to_toml_string(), &origin);
    }
    let path = Path::new(name_or_path);
    if path.extension().is_some_and(|e| e == "toml") || path.exists() {
        return SearchSpace::from_toml_file(path);
    }
    load(name_or_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_loads_under_its_own_name() {
        for name in NAMES {
            assert_eq!(load(name).unwrap().name, name);
        }
    }

    #[test]
    fn a_resolution_after_the_name_resizes_the_space() {
        let space = resolve("imagenet@64").unwrap();
        assert_eq!(
            (space.name.as_str(), space.input.resolution),
            ("imagenet", 64)
        );
        assert_eq!(
            space.choice_blocks().len(),
            load("imagenet").unwrap().choice_blocks().len()
        );
        let err = resolve("imagenet@0").unwrap_err().to_string();
        assert!(err.contains("NAME@RESOLUTION"), "{err}");
        assert!(
            resolve("mobilenet@64")
                .unwrap_err()
                .to_string()
                .contains("unknown preset")
        );
    }

    #[test]
    fn unknown_preset_lists_the_known_ones() {
        let err = resolve("mobilenet").unwrap_err().to_string();
        assert!(err.contains("imagenet, fmnist, cifar10"), "{err}");
    }
}
