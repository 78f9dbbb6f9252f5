//! Latency lookup tables: a YAML mapping from key to `{count, mean, var|std}` (milliseconds).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::{FittedLatency, LatencyKey, NetworkCorrection};

/// Tables that ship with proxyless, by name.
pub const NAMED_TABLES: [&str; 1] = ["pixel1"];

/// One measured layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyEntry {
    /// Number of measurements.
    pub count: u64,
    /// Mean latency in milliseconds.
    pub mean: f64,
    /// Standard deviation in milliseconds (from `std`, or the square root of `var`).
    pub std: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryYaml {
    count: u64,
    mean: f64,
    #[serde(default)]
    var: Option<f64>,
    #[serde(default)]
    std: Option<f64>,
}

/// A latency lookup table.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyTable {
    /// Where the table came from (file or name), for messages.
    pub origin: String,
    /// Metadata from the table's header comments (`# backend: flex`), in order.
    pub meta: Vec<(String, String)>,
    entries: BTreeMap<String, LatencyEntry>,
    fallback: Option<FittedLatency>,
    correction: Option<NetworkCorrection>,
}

impl LatencyTable {
    /// A table that ships with proxyless: `pixel1` (the paper's Google Pixel 1 table for its
    /// ImageNet space at 224x224, batch 1).
    pub fn named(name: &str) -> Result<Self> {
        let text = match name {
            "pixel1" => include_str!("../tables/pixel1.yaml"),
            _ => {
                return Err(Error::Invalid {
                    origin: "arguments".into(),
                    message: format!(
                        "unknown latency table '{name}'; expected one of {} or a .yaml file",
                        NAMED_TABLES.join(", ")
                    ),
                });
            }
        };
        Self::from_yaml_str(text, &format!("table '{name}'"))
    }

    /// A named table, or a YAML file when `name_or_path` is not a name.
    pub fn resolve(name_or_path: &str) -> Result<Self> {
        if NAMED_TABLES.contains(&name_or_path) {
            Self::named(name_or_path)
        } else {
            Self::from_yaml_file(name_or_path)
        }
    }

    /// Reads a table from a YAML file.
    pub fn from_yaml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| Error::Io {
            path: path.display().to_string(),
            error,
        })?;
        Self::from_yaml_str(&text, &path.display().to_string())
    }

    /// Parses a table; `origin` names its source in errors.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Self> {
        let invalid = |message: String| Error::Invalid {
            origin: origin.to_string(),
            message,
        };
        let raw: BTreeMap<String, EntryYaml> =
            serde_yaml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut entries = BTreeMap::new();
        for (key, e) in raw {
            let std = match (e.std, e.var) {
                (Some(s), _) => s,
                (None, Some(v)) if v >= 0.0 => v.sqrt(),
                (None, Some(v)) => return Err(invalid(format!("{key}: negative var {v}"))),
                (None, None) => 0.0,
            };
            if !(e.mean.is_finite() && e.mean >= 0.0) {
                return Err(invalid(format!(
                    "{key}: mean must be a finite, non-negative number of ms, got {}",
                    e.mean
                )));
            }
            entries.insert(
                key,
                LatencyEntry {
                    count: e.count,
                    mean: e.mean,
                    std,
                },
            );
        }
        if entries.is_empty() {
            return Err(invalid("the table has no entries".into()));
        }
        let meta: Vec<(String, String)> = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .filter_map(|l| l.trim_start_matches('#').split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let correction = NetworkCorrection::from_meta(&meta, origin)?;
        Ok(Self {
            origin: origin.to_string(),
            meta,
            entries,
            fallback: None,
            correction,
        })
    }

    /// A table of measured entries, with `meta` for its header.
    pub fn from_entries(
        origin: impl Into<String>,
        meta: Vec<(String, String)>,
        entries: impl IntoIterator<Item = (LatencyKey, LatencyEntry)>,
    ) -> Self {
        Self {
            origin: origin.into(),
            meta,
            entries: entries
                .into_iter()
                .map(|(k, e)| (k.to_string(), e))
                .collect(),
            fallback: None,
            correction: None,
        }
    }

    /// The whole-network correction of the table's predictions, if it has one.
    pub fn correction(&self) -> Option<&NetworkCorrection> {
        self.correction.as_ref()
    }

    /// Sets the whole-network correction (also written to the header by
    /// [`to_yaml`](Self::to_yaml)), replacing any earlier one.
    pub fn set_correction(&mut self, correction: NetworkCorrection) {
        let keys = correction.to_meta();
        self.meta.retain(|(k, _)| !keys.iter().any(|(c, _)| c == k));
        self.meta.extend(keys);
        self.correction = Some(correction);
    }

    /// How the place a prediction is made for differs from where the table was measured:
    /// for each `(key, value)` of `here` (`backend`, `build`, `cpu`, `threads`, ...), a line
    /// where the table's header records another value; one line when it records no backend at
    /// all (the paper's tables, for one). Empty when they agree.
    pub fn differences_from(&self, here: &[(String, String)]) -> Vec<String> {
        if self.meta_value("backend").is_none() {
            return vec![format!(
                "{} does not record where it was measured: its times describe that device, \
                 not necessarily this one",
                self.origin
            )];
        }
        here.iter()
            .filter_map(|(key, ours)| {
                let theirs = self.meta_value(key)?;
                (theirs != ours).then(|| {
                    format!(
                        "{} was measured with {key} '{theirs}', this is '{ours}'",
                        self.origin
                    )
                })
            })
            .collect()
    }

    /// The value of header entry `key`, if present.
    pub fn meta_value(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The table as YAML in the official format (`key: {count, mean, std}`, milliseconds),
    /// with the metadata as `# name: value` header comments that official readers ignore.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.meta {
            out.push_str(&format!("# {k}: {v}\n"));
        }
        for (key, e) in &self.entries {
            out.push_str(&format!(
                "{key}:\n  count: {}\n  mean: {}\n  std: {}\n",
                e.count, e.mean, e.std
            ));
        }
        out
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty (never, for a parsed table).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `key`, or an error naming the missing key.
    ///
    /// With the fitted fallback enabled ([`with_fitted_fallback`](Self::with_fitted_fallback)),
    /// a missing MBConv block gets the fit's prediction (an entry with `count` 0).
    pub fn get(&self, key: &LatencyKey) -> Result<LatencyEntry> {
        let text = key.to_string();
        if let Some(entry) = self.entries.get(&text) {
            return Ok(*entry);
        }
        match self.fallback.and_then(|fit| fit.predict(key)) {
            Some(mean) => Ok(LatencyEntry {
                count: 0,
                mean,
                std: 0.0,
            }),
            None => Err(Error::MissingKey {
                origin: self.origin.clone(),
                key: text,
            }),
        }
    }

    /// Enables the fitted fallback: MBConv blocks the table lacks are predicted by a linear fit
    /// of its `expanded_conv` entries on MACs and activation sizes (see [`FittedLatency`]).
    /// Other missing layers stay errors. Fails when the table has too few blocks to fit.
    pub fn with_fitted_fallback(mut self) -> Result<Self> {
        let fit = FittedLatency::fit(self.entries.iter().map(|(k, e)| (k.as_str(), e.mean)))
            .ok_or_else(|| Error::Invalid {
                origin: self.origin.clone(),
                message: "the fitted fallback needs at least four expanded_conv entries of \
                          different shapes"
                    .into(),
            })?;
        self.fallback = Some(fit);
        Ok(self)
    }

    /// The fitted fallback, when enabled.
    pub fn fallback(&self) -> Option<&FittedLatency> {
        self.fallback.as_ref()
    }

    /// Mean latency (ms) of `key`.
    pub fn mean(&self, key: &LatencyKey) -> Result<f64> {
        Ok(self.get(key)?.mean)
    }

    /// Every entry, by key string.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &LatencyEntry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel1_table_has_the_papers_72_entries() {
        let table = LatencyTable::named("pixel1").unwrap();
        assert_eq!(table.len(), 72);
        let key = LatencyKey::Stem {
            input: [224, 224, 3],
            output: [112, 112, 32],
        };
        assert!((table.mean(&key).unwrap() - 4.083755600814664).abs() < 1e-12);
    }

    /// A one-entry table (the `fmnist` stem) with header `meta`.
    fn stem_table(meta: Vec<(String, String)>) -> (LatencyTable, LatencyKey, LatencyEntry) {
        let key = LatencyKey::Stem {
            input: [28, 28, 1],
            output: [28, 28, 16],
        };
        let entry = LatencyEntry {
            count: 20,
            mean: 0.125,
            std: 0.01,
        };
        let table = LatencyTable::from_entries("t.yaml", meta, [(key, entry)]);
        (table, key, entry)
    }

    #[test]
    fn written_tables_read_back_with_their_header() {
        let meta = vec![("backend".to_string(), "flex".to_string())];
        let (table, key, entry) = stem_table(meta.clone());
        let back = LatencyTable::from_yaml_str(&table.to_yaml(), "t.yaml").unwrap();
        assert_eq!(back.meta, meta);
        assert_eq!(back.get(&key).unwrap(), entry);
    }

    #[test]
    fn differences_name_each_header_that_disagrees() {
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let (table, _, _) = stem_table(vec![pair("backend", "flex"), pair("threads", "2")]);
        assert!(
            table
                .differences_from(&[pair("backend", "flex")])
                .is_empty()
        );
        let here = [
            pair("backend", "wgpu"),
            pair("threads", "2"),
            pair("cpu", "x"),
        ];
        let lines = table.differences_from(&here);
        assert_eq!(
            lines,
            ["t.yaml was measured with backend 'flex', this is 'wgpu'"]
        );
        let pixel1 = LatencyTable::named("pixel1").unwrap();
        let lines = pixel1.differences_from(&here);
        assert!(
            lines.len() == 1 && lines[0].contains("does not record"),
            "{lines:?}"
        );
    }

    #[test]
    fn bad_tables_name_the_problem() {
        let err = LatencyTable::from_yaml_str("a:\n  count: 1\n  mean: -2\n", "t.yaml");
        assert!(err.unwrap_err().to_string().contains("t.yaml: a: mean"));
        let err = LatencyTable::from_yaml_str("a:\n  count: x\n  mean: 1\n", "t.yaml");
        assert!(err.unwrap_err().to_string().starts_with("t.yaml: "));
        let err = LatencyTable::from_yaml_str("{}", "t.yaml").unwrap_err();
        assert!(err.to_string().contains("no entries"));
    }
}
