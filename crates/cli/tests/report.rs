//! The HTML report of a search run opens in headless Chromium: the browser parses every
//! figure, and its screenshot is a non-blank page.

mod common;

use std::path::Path;
use std::process::Command;

use common::success;

/// The Chromium binary: `$CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
fn chromium() -> String {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return path;
    }
    for name in ["chromium", "chromium-browser"] {
        if Command::new(name).arg("--version").output().is_ok() {
            return name.into();
        }
    }
    panic!(
        "no Chromium for the report test: install Debian's `chromium` (cargo xtask test does \
         when root) or set CHROMIUM"
    );
}

fn headless(page: &Path, extra: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.path().display()),
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

#[test]
fn report_opens_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("search.toml");
    std::fs::write(&config, common::small_search_config("two", 2)).unwrap();
    let run = dir.path().join("run");
    let (c, r) = (config.display().to_string(), run.display().to_string());
    success(&["search", "--config", &c, "--out", &r, "--quiet"]);
    let page = run.join("report/index.html").canonicalize().unwrap();

    // The browser's own parse of the page holds every figure and its SVG.
    let dom = headless(&page, &["--dump-dom"]);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("<figure").count(), 8, "{dom}");
    assert_eq!(dom.matches("<svg").count(), 8);
    assert!(dom.contains("class=\"heat-block\"") && dom.contains("</html>"));
    // The epoch table counts epochs in whole numbers.
    assert!(dom.contains("<tr><td>0</td>"), "{dom}");

    // A screenshot: the requested size, and not one colour.
    let shot = dir.path().join("report.png");
    let out = headless(
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image = image::open(&shot).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (1280, 2000));
    let first = *image.get_pixel(0, 0);
    let differing = image.pixels().filter(|p| **p != first).count();
    assert!(
        differing > 50_000,
        "the screenshot is nearly blank ({differing} pixels differ)"
    );
    let keep = std::env::var_os("PROXYLESS_REPORT_SCREENSHOT");
    if let Some(path) = keep {
        std::fs::copy(&shot, path).unwrap();
    }
}
