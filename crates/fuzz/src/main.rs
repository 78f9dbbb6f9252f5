//! `proxyless-fuzz [--inputs N] [--seed S] [--only TARGET] [--out DIR]`: fuzzes every parser
//! (N inputs each, default one million) and writes `DIR/report.md`; exits non-zero when an
//! input panicked or aborted. Each target runs in a worker process (`--worker TARGET`) whose
//! address space `prlimit` caps at [`ADDRESS_SPACE`], and which saves every input before
//! running it: an input that makes the worker allocate past the cap (a size read from a
//! header) aborts it, and this supervisor saves that input and restarts the worker after it.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use proxyless_fuzz::targets::{self, Scratch, Target};

/// The address space of a worker: 2 GiB, far above what parsing the seeds needs (the largest
/// legitimate input here is a few kilobytes) and far below what a forged header asks for.
const ADDRESS_SPACE: u64 = 2 << 30;

struct Options {
    inputs: u64,
    seed: u64,
    only: Option<String>,
    out: PathBuf,
    worker: Option<String>,
    from: u64,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        inputs: 1_000_000,
        seed: 1,
        only: None,
        out: PathBuf::from("target/fuzz"),
        worker: None,
        from: 0,
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().cloned().ok_or(format!("{arg} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{arg}: {e}"));
        match arg.as_str() {
            "--inputs" => o.inputs = number(value()?)?,
            "--seed" => o.seed = number(value()?)?,
            "--from" => o.from = number(value()?)?,
            "--only" => o.only = Some(value()?),
            "--out" => o.out = PathBuf::from(value()?),
            "--worker" => o.worker = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse(&args).and_then(|o| match &o.worker {
        Some(name) => worker(&o, name),
        None => supervise(&o),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxyless-fuzz: {e}");
            ExitCode::FAILURE
        }
    }
}

fn target(name: &str) -> Result<Target, String> {
    targets::all()
        .into_iter()
        .find(|t| t.name == name)
        .ok_or(format!("no target {name}"))
}

/// Runs inputs `from..inputs` of one target, saving each to `OUT/NAME/current` first (its
/// number, then its bytes); prints `inputs accepted` and one line per panic.
fn worker(o: &Options, name: &str) -> Result<(), String> {
    let t = target(name)?;
    let dir = o.out.join(name);
    let scratch = Scratch::new(&dir.join("scratch")).map_err(|e| e.to_string())?;
    let current = std::fs::File::create(dir.join("current")).map_err(|e| e.to_string())?;
    let tally = proxyless_fuzz::run(&t, &scratch, o.seed, o.from, o.inputs, |index, data| {
        let _ = current.set_len(0);
        let _ = current.write_all_at(&index.to_le_bytes(), 0);
        let _ = current.write_all_at(data, 8);
    });
    println!("{} {}", tally.inputs, tally.accepted);
    for p in tally.panics {
        let path = dir.join(format!("panic-{}.bin", p.index));
        std::fs::write(&path, &p.input).map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "panic {} {} ({})",
            p.index,
            p.message.replace('\n', " "),
            path.display()
        );
    }
    Ok(())
}

/// What a target's run found, over every worker.
#[derive(Default)]
struct Findings {
    inputs: u64,
    accepted: u64,
    seconds: f64,
    panics: Vec<(u64, String)>,
    aborts: Vec<(u64, String)>,
}

fn supervise(o: &Options) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&o.out).map_err(|e| format!("{}: {e}", o.out.display()))?;
    let mut report = format!(
        "# Fuzzing report\n\n`proxyless-fuzz --inputs {} --seed {}`\n\n\
         | parser | inputs | accepted | inputs/s | panics | aborts |\n| --- | --- | --- | --- | --- | --- |\n",
        o.inputs, o.seed
    );
    let mut failed = false;
    for t in targets::all() {
        if o.only.as_deref().is_some_and(|n| n != t.name) {
            continue;
        }
        let f = fuzz_target(o, &exe, t.name)?;
        let rate = f.inputs as f64 / f.seconds.max(1e-9);
        println!(
            "{:<20} {:>8} inputs in {:>6.1} s ({:>7.0}/s), {:>5.1}% accepted, {} panics, {} aborts",
            t.name,
            f.inputs,
            f.seconds,
            rate,
            100.0 * f.accepted as f64 / f.inputs.max(1) as f64,
            f.panics.len(),
            f.aborts.len()
        );
        for (index, why) in f.panics.iter().chain(&f.aborts) {
            println!("  input {index}: {why}");
        }
        failed |= !f.panics.is_empty() || !f.aborts.is_empty();
        report.push_str(&format!(
            "| {} | {} | {:.1}% | {:.0} | {} | {} |\n",
            t.name,
            f.inputs,
            100.0 * f.accepted as f64 / f.inputs.max(1) as f64,
            rate,
            f.panics.len(),
            f.aborts.len()
        ));
    }
    let path = o.out.join("report.md");
    std::fs::write(&path, report).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("report: {}", path.display());
    if failed {
        return Err(format!("findings; their inputs are in {}", o.out.display()));
    }
    Ok(())
}

/// Runs one target's inputs in workers, restarting after each abort.
fn fuzz_target(o: &Options, exe: &Path, name: &str) -> Result<Findings, String> {
    let dir = o.out.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut f = Findings::default();
    let started = Instant::now();
    let mut from = o.from;
    while from < o.inputs {
        let out = Command::new("prlimit")
            .arg(format!("--as={ADDRESS_SPACE}"))
            .arg("--")
            .arg(exe)
            .args(["--worker", name, "--seed", &o.seed.to_string()])
            .args([
                "--from",
                &from.to_string(),
                "--inputs",
                &o.inputs.to_string(),
            ])
            .arg("--out")
            .arg(&o.out)
            // One malloc arena per thread would reserve 64 MiB of address space each.
            .env("MALLOC_ARENA_MAX", "2")
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run prlimit (util-linux): {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() {
            let mut lines = stdout.lines();
            let mut counts = lines.next().unwrap_or("0 0").split(' ');
            let mut next = || {
                counts
                    .next()
                    .and_then(|c| c.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            f.inputs += next();
            f.accepted += next();
            for line in lines {
                if let Some(rest) = line.strip_prefix("panic ") {
                    let (index, message) = rest.split_once(' ').unwrap_or((rest, ""));
                    f.panics
                        .push((index.parse().unwrap_or(0), message.to_string()));
                }
            }
            break;
        }
        // The worker aborted: the input it saved last is the one.
        let current = std::fs::read(dir.join("current")).map_err(|e| e.to_string())?;
        let index = current
            .get(..8)
            .map_or(from, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
        let path = save_abort(&dir, index)?;
        let why = String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', " ");
        f.aborts
            .push((index, format!("{why} ({})", path.display())));
        f.inputs += index + 1 - from;
        from = index + 1;
    }
    f.seconds = started.elapsed().as_secs_f64();
    Ok(f)
}

/// Saves the input `index` that aborted the worker (its `current`) as `abort-INDEX.bin`.
fn save_abort(dir: &Path, index: u64) -> Result<PathBuf, String> {
    let current = std::fs::read(dir.join("current")).unwrap_or_default();
    let path = dir.join(format!("abort-{index}.bin"));
    let data = match current.get(..8) {
        Some(b) if u64::from_le_bytes(b.try_into().expect("8 bytes")) == index => &current[8..],
        _ => &[][..],
    };
    std::fs::write(&path, data).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
