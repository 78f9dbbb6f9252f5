//! `proxyless study` end to end on a small synthetic task: searches, random networks of the
//! same cost, baselines, retraining, the record and its pages; resume; errors.

mod common;

use common::{failure, success, tiny_study, without_times};
use serde_json::Value;

#[test]
fn a_tiny_study_compares_searched_random_and_baseline_networks() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_study(dir.path());
    let out = dir.path().join("study");
    let o = out.display().to_string();
    let printed = success(&["study", "--config", &config, "--out", &o, "--quiet"]);
    assert!(printed.contains("searched − random"), "{printed}");
    assert!(printed.contains("Kendall τ"), "{printed}");
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("study.json")).unwrap()).unwrap();
    let searches = record["searches"].as_array().unwrap();
    assert_eq!(searches.len(), 2);
    let nets = record["nets"].as_array().unwrap();
    // 2 searched, 2 × 2 random, 1 uniform baseline, cheapest and dearest.
    assert_eq!(nets.len(), 9);
    for net in nets {
        assert_eq!(net["top1"].as_array().unwrap().len(), 1);
        assert!(net["top1"][0].as_f64().is_some(), "{net}");
        assert_eq!(net["inherited"].as_array().unwrap().len(), 2);
        assert!(net["measured_ms"].as_f64().unwrap() > 0.0);
        if net["kind"] == "random" {
            let of = if net["id"].as_str().unwrap().starts_with("random-0") {
                0
            } else {
                1
            };
            let target = searches[of]["cost"].as_f64().unwrap();
            let cost = net["cost"].as_f64().unwrap();
            assert!((cost / target - 1.0).abs() <= 0.05, "{cost} vs {target}");
            assert!(net["draw_seed"].as_u64().is_some());
        }
    }
    let kinds: Vec<&str> = nets.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "baseline").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "anchor").count(), 2);
    let kendall = record["summary"]["kendall"].as_array().unwrap();
    assert_eq!(kendall.len(), 4, "two supernets × (all, equal-cost)");
    assert_eq!(kendall[0]["networks"], 9);
    let page = std::fs::read_to_string(out.join("study.html")).unwrap();
    assert_eq!(page.matches("<svg").count(), 2);
    for picture in ["accuracy-cost.svg", "accuracy-latency.svg"] {
        assert!(
            std::fs::read_to_string(out.join(picture))
                .unwrap()
                .contains("class=\"point\"")
        );
    }
    assert!(
        std::fs::read_to_string(out.join("study.md"))
            .unwrap()
            .contains("| searched-0 |")
    );

    // The same study as tasks: prepared, one task run alone (twice: the second finds it
    // done), the rest by two worker processes, records what the single process recorded.
    let tasks = dir.path().join("tasks");
    let t = tasks.display().to_string();
    let listed = success(&["study", "--config", &config, "--out", &t, "--prepare"]);
    for line in [
        "search:0\tsearch-0\tready",
        "plan:0\tplan\twaiting",
        "retrain: known once the plan task has run",
    ] {
        assert!(listed.contains(line), "{line} in {listed}");
    }
    failure(
        &["study", "task", &t, "plan"],
        &["plan waits for search-0, search-1"],
    );
    failure(&["study", "task", &t, "search:2"], &["2 task(s)"]);
    let alone = success(&["study", "task", &t, "search:1", "--quiet"]);
    assert!(alone.contains("search-1: done"), "{alone}");
    let again = success(&["study", "task", &t, "search-1", "--quiet"]);
    assert!(again.contains("search-1: already done"), "{again}");
    success(&["study", "--resume", &t, "--workers", "2", "--quiet"]);
    let pooled: Value =
        serde_json::from_str(&std::fs::read_to_string(tasks.join("study.json")).unwrap()).unwrap();
    assert_eq!(without_times(&pooled), without_times(&record));
    assert!(tasks.join("logs/train-searched-0-seed3.log").is_file());
    let status = success(&["study", "status", &t]);
    assert!(status.contains("0 task(s) not done"), "{status}");
    assert!(status.contains("searched − random"), "{status}");
    let count = success(&["study", "status", &t, "--count", "retrain"]);
    assert_eq!(count.trim(), "9");

    // A study interrupted before its last retraining was recorded resumes there: the
    // finished training directory is reopened, not trained again, and gives the same top-1.
    let path = out.join("study.json");
    let mut cut: Value = record.clone();
    let last = cut["nets"].as_array().unwrap().len() - 1;
    cut["nets"][last]["top1"][0] = Value::Null;
    std::fs::write(&path, serde_json::to_string(&cut).unwrap()).unwrap();
    success(&["study", "--resume", &o, "--quiet"]);
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(again["nets"][last]["top1"], record["nets"][last]["top1"]);
    assert_eq!(again["nets"], {
        let mut n = record["nets"].clone();
        n[last]["train_seconds"] = again["nets"][last]["train_seconds"].clone();
        n
    });

    // A finished study given a further search seed searches with it, plans its searched and
    // random networks among the others, retrains only those, and keeps every earlier top-1.
    failure(
        &[
            "study",
            "--resume",
            &o,
            "--add-search-seeds",
            "1",
            "--quiet",
        ],
        &["search_seeds", "repeats"],
    );
    success(&[
        "study",
        "--resume",
        &o,
        "--add-search-seeds",
        "7",
        "--quiet",
    ]);
    let more: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(more["searches"].as_array().unwrap().len(), 3);
    let ids: Vec<&str> = more["nets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(&ids[..3], ["searched-0", "searched-1", "searched-7"]);
    assert_eq!(&ids[7..9], ["random-7-0", "random-7-1"]);
    assert_eq!(ids.len(), 12);
    for net in more["nets"].as_array().unwrap() {
        assert_eq!(net["inherited"].as_array().unwrap().len(), 3, "{net}");
        assert!(net["top1"][0].as_f64().is_some(), "{net}");
        if let Some(old) = again["nets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == net["id"])
        {
            assert_eq!(net["top1"], old["top1"]);
            assert_eq!(net["choices"], old["choices"]);
        }
    }
}

#[test]
fn bad_studies_fail_with_the_key_or_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_study(dir.path());
    let out = dir.path().join("s").display().to_string();
    failure(
        &[
            "study", "--config", &config, "--set", "band=2", "--out", &out,
        ],
        &["band", "(0, 1)"],
    );
    failure(
        &[
            "study",
            "--config",
            &config,
            "--set",
            "search_seeds=[]",
            "--out",
            &out,
        ],
        &["search_seeds"],
    );
    let no_cost = dir.path().join("nocost.toml");
    std::fs::write(&no_cost, "search_set = [\"target.cost=\\\"none\\\"\"]\n").unwrap();
    failure(
        &[
            "study",
            "--config",
            &no_cost.display().to_string(),
            "--out",
            &out,
        ],
        &["needs a cost"],
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    failure(
        &["study", "--resume", &empty.display().to_string()],
        &["study.toml"],
    );
}
