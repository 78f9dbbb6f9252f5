//! Progress bars of searches, trainings and profiles, with rate and ETA; hidden when quiet.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress bars in one style (rate and ETA), shared by the search, training and the CLI.
pub struct Progress {
    quiet: bool,
}

impl Progress {
    /// Bars on standard error, or none when `quiet`.
    pub fn new(quiet: bool) -> Self {
        Self { quiet }
    }

    /// A bar over `len` steps (an epoch, a profile), labelled `label`.
    pub fn epoch(&self, label: &str, len: usize) -> ProgressBar {
        let bar = ProgressBar::new(len as u64);
        if self.quiet {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>14} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar
    }
}

impl Progress {
    /// Whether bars and epoch lines are hidden.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }
}
