//! Fuzzing of every parser of a file proxyless reads, on the stable toolchain: inputs are
//! mutated from valid seeds ([`mutate`]) and fed to each [`targets::Target`]; an input that
//! panics, or that makes the parser allocate beyond a bound, is a finding. `cargo xtask fuzz`
//! runs a million inputs per parser, each target in worker processes whose address space is
//! capped (`prlimit --as`), so an allocation sized by a header fails and aborts the worker;
//! the supervisor saves that input and restarts the worker after it. The crate's tests run a
//! short smoke of every target.

pub mod mutate;
pub mod targets;

use std::panic::AssertUnwindSafe;

use mutate::{Rng, mutate};
use targets::{Scratch, Target};

/// What running a target on a range of inputs found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Inputs run.
    pub inputs: u64,
    /// Inputs the parser accepted.
    pub accepted: u64,
    /// Inputs that panicked.
    pub panics: Vec<Panic>,
}

/// An input that panicked.
#[derive(Debug, Clone, PartialEq)]
pub struct Panic {
    /// Its number in the run.
    pub index: u64,
    /// The panic's message.
    pub message: String,
    /// The input.
    pub input: Vec<u8>,
}

/// Input number `index` of `target` in the run seeded `seed`: made again from the same numbers.
pub fn input(target: &Target, seeds: &[Vec<u8>], seed: u64, index: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F));
    mutate(seeds, &mut rng, target.text)
}

/// Runs inputs `from..to` of `target`; `before` sees each input first (the worker saves it,
/// so that an abort can be traced to it).
pub fn run(
    target: &Target,
    scratch: &Scratch,
    seed: u64,
    from: u64,
    to: u64,
    mut before: impl FnMut(u64, &[u8]),
) -> Tally {
    let seeds = (target.seeds)(scratch);
    let mut tally = Tally::default();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for index in from..to {
        let data = input(target, &seeds, seed, index);
        before(index, &data);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| (target.run)(scratch, &data)));
        tally.inputs += 1;
        match outcome {
            Ok(true) => tally.accepted += 1,
            Ok(false) => {}
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".into());
                tally.panics.push(Panic {
                    index,
                    message,
                    input: data,
                });
            }
        }
    }
    std::panic::set_hook(quiet);
    tally
}
