//! `cargo xtask tables [--backend B]...`: measures the latency tables that ship in
//! `configs/latency/` again on this machine (each with its whole-network correction), so that
//! the shipped CPU tables and the figures quoted from them can always be made anew.

/// The shipped tables measured on a CPU backend: (backend, space, batch, file).
const CPU_TABLES: [(&str, &str, usize, &str); 2] = [
    ("flex", "fmnist", 16, "configs/latency/fmnist-flex-b16.yaml"),
    (
        "ndarray",
        "fmnist",
        16,
        "configs/latency/fmnist-ndarray-b16.yaml",
    ),
];

/// Profiles every shipped CPU table (or those of the backends named with `--backend`) with
/// `proxyless latency profile`, overwriting the file.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut wanted: Vec<&str> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--backend" => wanted.push(iter.next().ok_or("--backend needs a value")?),
            other => return Err(format!("tables: unknown argument '{other}'")),
        }
    }
    for name in &wanted {
        if !CPU_TABLES.iter().any(|(b, ..)| b == name) {
            return Err(format!(
                "tables: no shipped table is measured on '{name}'; expected one of {}",
                CPU_TABLES.map(|t| t.0).join(", ")
            ));
        }
    }
    for (backend, space, batch, file) in CPU_TABLES {
        if !wanted.is_empty() && !wanted.contains(&backend) {
            continue;
        }
        eprintln!("xtask: measuring {file} ({space} on {backend}, batch {batch})");
        let args: Vec<String> = [
            "latency",
            "profile",
            "--space",
            space,
            "--batch",
            &batch.to_string(),
            "--out",
            file,
            "--backend",
            backend,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        crate::run::run(&args)?;
    }
    Ok(())
}
