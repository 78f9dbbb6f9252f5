//! A short run of every fuzzing target (the benchmark, `cargo xtask fuzz`, runs a million
//! inputs of each in address-space-capped workers): every seed is accepted (the inputs reach
//! the parser), no input panics, and some are rejected.

use proxyless_fuzz::targets::{self, Scratch};

#[test]
fn every_parser_survives_mutated_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = Scratch::new(dir.path()).unwrap();
    for target in targets::all() {
        let seeds = (target.seeds)(&scratch);
        assert!(
            seeds.iter().all(|s| (target.run)(&scratch, s)),
            "{}: a seed is rejected",
            target.name
        );
        let tally = proxyless_fuzz::run(&target, &scratch, 7, 0, 1000, |_, _| {});
        assert!(
            tally.panics.is_empty(),
            "{}: {:?}",
            target.name,
            tally
                .panics
                .iter()
                .map(|p| (p.index, &p.message))
                .collect::<Vec<_>>()
        );
        assert!(
            tally.accepted < tally.inputs,
            "{}: every input accepted",
            target.name
        );
    }
}
