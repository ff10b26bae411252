//! Progress bars with rate and ETA on a terminal; nothing when piped or
//! with `--json`.

use std::io::IsTerminal as _;

use coffer_api::FileDto;
use coffer_client::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// One transfer's bar.
#[derive(Debug)]
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new(label: &str, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Self(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:30!} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_owned());
        Self(bar)
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    fn started(&self, _file: &FileDto, total: u64) {
        self.0.set_length(total);
    }

    fn advanced(&self, bytes: u64) {
        self.0.inc(bytes);
    }

    fn rewound(&self, bytes: u64) {
        self.0.set_position(self.0.position().saturating_sub(bytes));
    }
}
