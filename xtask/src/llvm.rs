//! The LLVM that Burn's `cuda` backend links. `cubecl-cuda` always builds `cubecl-llvm` (its
//! PTX compiler), whose build dependency `tracel-llvm-bundler` downloads a prebuilt LLVM from
//! GitHub into `<data dir>/tracel/tracel-llvm-<version>/` unless that folder already holds one
//! (marked by the file `.tracel-llvm-installed`). Offline, [`ensure_for_cuda`] fills that folder
//! from a local LLVM that has its static libraries: `$PROXYLESS_LLVM_PREFIX`, else
//! `/usr/lib/llvm-23` or `/usr/lib/llvm-22` (Debian: `llvm-22-dev`, `libpolly-22-dev` and
//! `libzstd-dev`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file whose presence tells the bundler its folder holds an LLVM.
const SENTINEL: &str = ".tracel-llvm-installed";

/// Local LLVMs tried, newest first. The bundle is LLVM 23; cubecl-llvm's bindings build and
/// link against 22 as well.
const LOCAL_PREFIXES: [&str; 2] = ["/usr/lib/llvm-23", "/usr/lib/llvm-22"];

/// Debian's packages that make LLVM 22 one the `cuda` build links.
const DEBIAN_PACKAGES: &str = "llvm-22-dev libpolly-22-dev libzstd-dev";

/// Makes sure the `cuda` build finds an LLVM without downloading one, when a local one exists;
/// otherwise says that cargo will download it.
pub fn ensure_for_cuda() -> Result<(), String> {
    prepare(false).map(|_| ())
}

/// Whether the `cuda` build has an LLVM without downloading one, after installing Debian's
/// LLVM 22 with apt when there is no local LLVM and this is root.
pub fn ensure_for_cuda_offline() -> Result<bool, String> {
    prepare(true)
}

fn prepare(install: bool) -> Result<bool, String> {
    let folder = bundle_folder()?;
    if folder.join(SENTINEL).exists() {
        return Ok(true);
    }
    let (prefix, version) = match std::env::var_os("PROXYLESS_LLVM_PREFIX") {
        Some(prefix) => {
            let prefix = PathBuf::from(prefix);
            let version = check_local_llvm(&prefix)
                .map_err(|e| format!("PROXYLESS_LLVM_PREFIX={}: {e}", prefix.display()))?;
            (prefix, version)
        }
        None => match find_local_llvm() {
            Ok(found) => found,
            Err(problems) if install && crate::data::is_root() => {
                crate::data::ensure_package(
                    DEBIAN_PACKAGES,
                    &format!("no local LLVM for the cuda build ({problems})"),
                    "or set PROXYLESS_LLVM_PREFIX",
                )?;
                find_local_llvm()?
            }
            Err(problems) => {
                eprintln!(
                    "xtask: no local LLVM for the cuda build ({problems}); cargo will download \
                     one into {} (offline: install Debian's `{DEBIAN_PACKAGES}`, or set \
                     PROXYLESS_LLVM_PREFIX to an LLVM 22 or 23 with static libraries)",
                    folder.display()
                );
                return Ok(false);
            }
        },
    };
    link_local_llvm(&folder, &prefix)?;
    eprintln!(
        "xtask: the cuda build links LLVM {version} from {} through {} (remove that folder to \
         let the build download the LLVM it was written for)",
        prefix.display(),
        folder.display()
    );
    Ok(true)
}

/// The first of [`LOCAL_PREFIXES`] that the `cuda` build can link, with its LLVM version, or
/// why none is.
fn find_local_llvm() -> Result<(PathBuf, String), String> {
    let mut problems = Vec::new();
    for prefix in LOCAL_PREFIXES.iter().map(PathBuf::from) {
        match check_local_llvm(&prefix) {
            Ok(version) => return Ok((prefix, version)),
            Err(e) => problems.push(format!("{}: {e}", prefix.display())),
        }
    }
    Err(problems.join("; "))
}

/// The bundler's folder: `tracel/tracel-llvm-<version>` in the user's local data directory
/// (`$XDG_DATA_HOME`, else `~/.local/share`), the version being the bundler's in Cargo.lock.
fn bundle_folder() -> Result<PathBuf, String> {
    let data = match std::env::var_os("XDG_DATA_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => {
            let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
            PathBuf::from(home).join(".local/share")
        }
    };
    let lock = fs::read_to_string("Cargo.lock")
        .map_err(|e| format!("Cargo.lock: {e} (run cargo xtask from the repository's root)"))?;
    let version = bundler_version(&lock)
        .ok_or("Cargo.lock: no tracel-llvm-bundler (which cubecl-llvm builds with)")?;
    Ok(data.join("tracel").join(format!("tracel-llvm-{version}")))
}

/// The version of `tracel-llvm-bundler` in a Cargo.lock.
fn bundler_version(lock: &str) -> Option<String> {
    let mut lines = lock.lines();
    lines.find(|l| l.trim() == "name = \"tracel-llvm-bundler\"")?;
    let version = lines.next()?.trim().strip_prefix("version = \"")?;
    Some(version.strip_suffix('"')?.to_string())
}

/// The version of the LLVM in `prefix`; fails unless it is LLVM 22 or 23, the libraries of its
/// `llvm-config --link-static` are all there (Debian puts Polly's in `libpolly-<major>-dev`),
/// and the system libraries it names too (zstd's static-link name comes with `libzstd-dev`).
fn check_local_llvm(prefix: &Path) -> Result<String, String> {
    let version = llvm_config(prefix, &["--version"])?;
    let major = version.split('.').next().unwrap_or_default();
    if !["22", "23"].contains(&major) {
        return Err(format!(
            "LLVM {version}; cubecl-llvm's bindings need LLVM 22 or 23"
        ));
    }
    let libdir = PathBuf::from(llvm_config(prefix, &["--libdir"])?);
    let names = llvm_config(prefix, &["--link-static", "--libnames"])?;
    let missing: Vec<&str> = names
        .split_whitespace()
        .filter(|name| !libdir.join(name).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "LLVM {version} without the static libraries {} in {}",
            missing.join(" "),
            libdir.display()
        ));
    }
    let system = llvm_config(prefix, &["--link-static", "--system-libs"])?;
    let missing: Vec<String> = system_library_names(&system)
        .into_iter()
        .filter(|name| !linker_finds(name))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "LLVM {version} needs the system libraries {}, which the linker does not find",
            missing.join(" ")
        ));
    }
    Ok(version)
}

/// The names (`z3` for `-lz3` or `/usr/lib/libz3.so`) in `llvm-config --system-libs` output.
fn system_library_names(system_libs: &str) -> Vec<String> {
    system_libs
        .split_whitespace()
        .filter_map(|token| match token.strip_prefix("-l") {
            Some(name) => Some(name.to_string()),
            None => {
                let file = Path::new(token).file_name()?.to_string_lossy().into_owned();
                let name = file.strip_prefix("lib")?.split('.').next()?;
                Some(name.to_string())
            }
        })
        .collect()
}

/// Whether the C compiler's linker finds `lib<name>.so` or `lib<name>.a`.
fn linker_finds(name: &str) -> bool {
    ["so", "a"].iter().any(|ext| {
        Command::new("cc")
            .arg(format!("-print-file-name=lib{name}.{ext}"))
            .output()
            .is_ok_and(|o| Path::new(String::from_utf8_lossy(&o.stdout).trim()).is_absolute())
    })
}

/// `prefix/bin/llvm-config args...`, trimmed.
fn llvm_config(prefix: &Path, args: &[&str]) -> Result<String, String> {
    let binary = prefix.join("bin/llvm-config");
    let out = Command::new(&binary)
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`{} {}` failed: {}",
            binary.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The bundler's `llvm-config`: the local one, except that system libraries it names by path
/// (Debian's says `/usr/lib/x86_64-linux-gnu/libz3.so`) come out as `-l` names, the only form
/// the bundler passes on to the linker intact.
const LLVM_CONFIG: &str = r#"#!/bin/sh
out=$('@REAL@' "$@") || exit $?
case " $* " in
*" --system-libs "*) printf '%s\n' "$out" | sed -E 's#(^| )/[^ ]*/lib([^/ .]+)\.(so|a)[^ ]*#\1-l\2#g' ;;
*) printf '%s\n' "$out" ;;
esac
"#;

/// Fills the bundler's folder with links to `prefix`'s `lib` and `include` and the
/// [`LLVM_CONFIG`] wrapper, and marks it installed last, so an interrupted run leaves no
/// marked, half-made folder.
#[cfg(unix)]
fn link_local_llvm(folder: &Path, prefix: &Path) -> Result<(), String> {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let fail = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
    let bin = folder.join("bin");
    fs::create_dir_all(&bin).map_err(|e| fail(&bin, e))?;
    for part in ["lib", "include"] {
        let link = folder.join(part);
        if fs::symlink_metadata(&link).is_ok() {
            fs::remove_file(&link).map_err(|e| fail(&link, e))?;
        }
        symlink(prefix.join(part), &link).map_err(|e| fail(&link, e))?;
    }
    let script = bin.join("llvm-config");
    let real = prefix.join("bin/llvm-config");
    fs::write(
        &script,
        LLVM_CONFIG.replace("@REAL@", &real.display().to_string()),
    )
    .map_err(|e| fail(&script, e))?;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755))
        .map_err(|e| fail(&script, e))?;
    let sentinel = folder.join(SENTINEL);
    fs::write(&sentinel, format!("linked to {}\n", prefix.display()))
        .map_err(|e| fail(&sentinel, e))
}

#[cfg(not(unix))]
fn link_local_llvm(folder: &Path, prefix: &Path) -> Result<(), String> {
    Err(format!(
        "linking {} into {} is done on Unix only; copy it there by hand and create {SENTINEL}",
        prefix.display(),
        folder.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundler_version_is_read_from_the_lock_file() {
        let lock = "[[package]]\nname = \"tracel-llvm-bundler\"\nversion = \"23.1.0-4\"\n\
                    source = \"registry\"\n";
        assert_eq!(bundler_version(lock).as_deref(), Some("23.1.0-4"));
        assert_eq!(bundler_version("[[package]]\nname = \"other\"\n"), None);
    }

    #[test]
    fn system_libraries_are_named_by_flag_or_path() {
        let names = system_library_names("-lrt -ldl /usr/lib/x86_64-linux-gnu/libz3.so -lzstd");
        assert_eq!(names, ["rt", "dl", "z3", "zstd"]);
    }

    #[cfg(unix)]
    #[test]
    fn the_wrapper_names_system_libraries_by_flag() {
        let dir = std::env::temp_dir().join(format!("xtask-llvm-{}", std::process::id()));
        let fake = dir.join("real/bin");
        fs::create_dir_all(&fake).unwrap();
        let real = fake.join("llvm-config");
        fs::write(
            &real,
            "#!/bin/sh\necho '-lrt /usr/lib/x86_64-linux-gnu/libz3.so -lz /opt/x/libxml2.a'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&real, fs::Permissions::from_mode(0o755)).unwrap();
        let folder = dir.join("bundle");
        link_local_llvm(&folder, &dir.join("real")).unwrap();
        let out = |arg: &str| {
            let out = Command::new(folder.join("bin/llvm-config"))
                .args(["--link-static", arg])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(out("--system-libs"), "-lrt -lz3 -lz -lxml2\n");
        assert_eq!(
            out("--libs"),
            "-lrt /usr/lib/x86_64-linux-gnu/libz3.so -lz /opt/x/libxml2.a\n"
        );
        assert!(folder.join(SENTINEL).is_file());
        fs::remove_dir_all(&dir).unwrap();
    }
}
