//! Making sure the default search has its data: Fashion-MNIST from Debian's
//! `dataset-fashion-mnist` package.

use std::path::Path;
use std::process::Command;

/// Where Debian's package puts the files.
pub const DIR: &str = "/usr/share/datasets/fashion-mnist";
const PACKAGE: &str = "dataset-fashion-mnist";

/// Installs the package when the files are missing and this is root with apt; otherwise fails
/// with the exact command to run.
pub fn ensure_fashion_mnist() -> Result<(), String> {
    let present = |name: &str| {
        Path::new(DIR).join(format!("{name}.gz")).is_file() || Path::new(DIR).join(name).is_file()
    };
    if present("train-images-idx3-ubyte") && present("train-labels-idx1-ubyte") {
        return Ok(());
    }
    let command = format!("apt-get install -y {PACKAGE}");
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let has_apt = Path::new("/usr/bin/apt-get").is_file();
    if !(is_root && has_apt) {
        return Err(format!(
            "Fashion-MNIST is not in {DIR}; install it with `sudo {command}` (Debian/Ubuntu), \
             or pass --data DIR holding the idx files"
        ));
    }
    eprintln!("xtask: Fashion-MNIST is missing; running `{command}`");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", PACKAGE])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if install() {
        return Ok(());
    }
    let updated = Command::new("apt-get")
        .args(["update", "-q"])
        .status()
        .is_ok_and(|s| s.success());
    if updated && install() {
        return Ok(());
    }
    Err(format!(
        "could not install {PACKAGE}; run `{command}` yourself, or pass --data DIR"
    ))
}
