//! The only writer to stderr: status lines, warnings, the waiting spinner, the streamed reply and the run
//! summary. Quiet and verbose levels and the colour decision are applied here, once.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::{Event, Stats};

/// What the summary line says about a run besides the server's numbers.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFacts<'a> {
    pub packed: usize,
    pub omitted: usize,
    /// onepass's estimate of the prompt tokens, shown when the server does not count them.
    pub estimate: usize,
    pub window: Option<usize>,
    /// The server's measured prefill speed, to say what the cached tokens saved.
    pub speed: Option<f64>,
    /// The host the prompt went to, when it is not this machine.
    pub remote_host: Option<&'a str>,
}

pub struct Ui<'a> {
    err: &'a mut dyn Write,
    color: bool,
    /// -2 errors only, -1 quiet, 0 normal, 1+ verbose.
    verbosity: i8,
    terminal: bool,
    spinner: Option<ProgressBar>,
    streamed_chunks: usize,
    first_text: Option<std::time::Instant>,
    ends_with_newline: bool,
}

impl<'a> Ui<'a> {
    pub fn new(err: &'a mut dyn Write, color: bool, verbosity: i8, terminal: bool) -> Ui<'a> {
        Ui {
            err,
            color,
            verbosity,
            terminal,
            spinner: None,
            streamed_chunks: 0,
            first_text: None,
            ends_with_newline: true,
        }
    }

    /// The colour decision once the configuration is known.
    pub fn set_color(&mut self, color: bool) {
        self.color = color;
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn line(&mut self, text: &str) {
        if let Some(spinner) = &self.spinner {
            spinner.suspend(|| {
                let _ = writeln!(self.err, "{text}");
            });
        } else {
            if !self.ends_with_newline {
                let _ = writeln!(self.err);
                self.ends_with_newline = true;
            }
            let _ = writeln!(self.err, "{text}");
        }
    }

    /// A normal status line (hidden with -q).
    pub fn status(&mut self, text: &str) {
        if self.verbosity >= 0 {
            self.line(&clean(text));
        }
    }

    /// A block of text (e.g. the preview when stdout carries JSON), shown at normal verbosity.
    pub fn block(&mut self, text: &str) {
        if self.verbosity >= 0 {
            self.line(text.trim_end_matches('\n'));
        }
    }

    /// Detail shown with -v.
    pub fn detail(&mut self, text: &str) {
        if self.verbosity >= 1 {
            let text = self.paint("2", &clean(text));
            self.line(&text);
        }
    }

    pub fn verbose(&self) -> bool {
        self.verbosity >= 1
    }

    /// A problem that does not stop the run (hidden with -qq).
    pub fn warn(&mut self, text: &str) {
        if self.verbosity >= -1 {
            let label = self.paint("33;1", "warning:");
            self.line(&format!("{label} {}", clean(text)));
        }
    }

    /// The error that ends the run, with its causes.
    pub fn error(&mut self, text: &str) {
        self.stop_spinner();
        let label = self.paint("31;1", "error:");
        self.line(&format!("{label} {}", clean(text)));
    }

    /// A spinner with elapsed time for a local stage, on a terminal only (nothing otherwise).
    pub fn busy(&mut self, what: &str) {
        if self.terminal {
            self.waiting(what);
        }
    }

    /// Start waiting for the server: a spinner with elapsed time on a terminal, else a status line.
    pub fn waiting(&mut self, what: &str) {
        if self.terminal && self.verbosity >= -1 {
            let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            spinner.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.set_message(what.to_string());
            spinner.enable_steady_tick(Duration::from_millis(120));
            self.spinner = Some(spinner);
        } else {
            self.status(what);
        }
    }

    fn stop_spinner(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }

    /// Show what the server reports while the reply comes in.
    pub fn event(&mut self, event: &Event) {
        match event {
            Event::Accepted => {}
            Event::Prefill {
                processed,
                total,
                cached,
            } => {
                let text = format!(
                    "processing the prompt: {processed}/{total} tokens ({cached} from cache)"
                );
                if let Some(spinner) = &self.spinner {
                    spinner.set_message(format!("{} {text}", bar(*processed, *total, 24)));
                } else if self.verbosity >= 2 {
                    self.line(&text);
                }
            }
            Event::Text(text) => {
                self.streamed_chunks += 1;
                let first = *self.first_text.get_or_insert_with(std::time::Instant::now);
                if self.verbosity >= 0 {
                    self.stop_spinner();
                    let text = clean(text);
                    let shown = if self.color {
                        format!("\x1b[2m{text}\x1b[0m")
                    } else {
                        text.to_string()
                    };
                    let _ = write!(self.err, "{shown}");
                    let _ = self.err.flush();
                    self.ends_with_newline = text.ends_with('\n');
                } else if let Some(spinner) = &self.spinner {
                    // Streams carry about one token per chunk.
                    let secs = first.elapsed().as_secs_f64();
                    let speed = if secs > 0.5 {
                        format!(" at ~{:.0} tok/s", self.streamed_chunks as f64 / secs)
                    } else {
                        String::new()
                    };
                    spinner.set_message(format!(
                        "receiving the reply: ~{} tokens{speed}",
                        self.streamed_chunks
                    ));
                }
            }
        }
    }

    /// The reply is complete (or failed): clear the spinner and end the streamed text on a newline.
    pub fn reply_done(&mut self) {
        self.stop_spinner();
        if !self.ends_with_newline {
            let _ = writeln!(self.err);
            self.ends_with_newline = true;
        }
    }

    /// The one-line summary after a request.
    pub fn summary(&mut self, run: &RunFacts<'_>, stats: &Stats) {
        let RunFacts {
            packed,
            omitted,
            estimate,
            window,
            speed,
            remote_host,
        } = *run;
        if self.verbosity < -1 {
            return;
        }
        let mut parts = vec![format!(
            "{packed} file{} packed, {omitted} omitted",
            if packed == 1 { "" } else { "s" }
        )];
        let mut prompt = match stats.prompt_tokens {
            Some(n) => format!("prompt {} tokens", thousands(n as usize)),
            None => format!("prompt ~{} tokens", thousands(estimate)),
        };
        if let Some(cached) = stats.cached_tokens {
            let saved = speed
                .filter(|_| cached > 0)
                .map(|tps| {
                    format!(
                        ", ~{} of prefill saved",
                        seconds(cached as f64 / tps * 1000.0)
                    )
                })
                .unwrap_or_default();
            prompt.push_str(&format!(" ({} cached{saved})", thousands(cached as usize)));
        }
        if let Some(window) = window {
            prompt.push_str(&format!(" of {} context", thousands(window)));
        }
        parts.push(prompt);
        if let Some(ms) = stats.prefill_ms {
            let speed = stats
                .prefill_tps
                .map(|t| format!(" at {t:.0} tok/s"))
                .unwrap_or_default();
            parts.push(format!("prefill {}{speed}", seconds(ms)));
        }
        if let Some(ms) = stats.ttft_ms {
            parts.push(format!("first token {}", seconds(ms)));
        }
        if let Some(n) = stats.generated_tokens {
            let speed = stats
                .generation_tps
                .map(|t| format!(" at {t:.1} tok/s"))
                .unwrap_or_default();
            parts.push(format!("{} tokens generated{speed}", thousands(n as usize)));
        }
        parts.push(format!("total {}", seconds(stats.total_ms)));
        if let Some(host) = remote_host {
            parts.push(format!("prompt sent to {host}, outside this machine"));
        }
        let text = parts.join(" · ");
        let text = self.paint("2", &text);
        self.line(&text);
    }
}

/// A text progress bar: `[#####-----]`.
fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 {
        0
    } else {
        ((done.min(total) as f64 / total as f64) * width as f64).round() as usize
    };
    format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled))
}

/// Text from outside (model replies, server messages, file names) made safe for a terminal: control characters
/// other than newline and tab are shown escaped (`\u{1b}`), so they cannot move the cursor, clear the screen
/// or forge output.
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count for people: 12.3 MB.
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.1} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} bytes")
    }
}

fn seconds(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bar() {
        assert_eq!(bar(0, 100, 10), "[----------]");
        assert_eq!(bar(50, 100, 10), "[#####-----]");
        assert_eq!(bar(200, 100, 4), "[####]");
        assert_eq!(bar(1, 0, 4), "[----]");
    }

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(24300), "24,300");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(seconds(250.0), "250 ms");
        assert_eq!(seconds(29_400.0), "29.4 s");
    }

    #[test]
    fn outside_text_cannot_drive_the_terminal() {
        assert_eq!(clean("plain\n\ttext"), "plain\n\ttext");
        assert_eq!(clean("a\r\nb"), "a\nb");
        assert_eq!(clean("\u{1b}[2Jx\rover\u{7}"), "\\u{1b}[2Jx\\rover\\u{7}");
        let mut buf = Vec::new();
        let mut ui = Ui::new(&mut buf, false, 1, false);
        ui.error("bad \u{1b}]0;title\u{7}");
        ui.event(&Event::Text("\u{1b}[31mred".into()));
        let text = String::from_utf8(buf).unwrap();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
    }

    #[test]
    fn summary_says_unknown_as_absent_not_zero() {
        let mut buf = Vec::new();
        let mut ui = Ui::new(&mut buf, false, 0, false);
        let stats = Stats {
            prompt_tokens: Some(8432),
            generated_tokens: Some(40),
            ttft_ms: Some(2300.0),
            total_ms: 4000.0,
            ..Stats::default()
        };
        let facts = RunFacts {
            packed: 3,
            omitted: 1,
            estimate: 8000,
            window: Some(16384),
            ..RunFacts::default()
        };
        ui.summary(&facts, &stats);
        let text = String::from_utf8(buf).unwrap();
        assert!(!text.contains("outside"), "{text}");
        assert!(text.contains("3 files packed, 1 omitted"), "{text}");
        assert!(
            text.contains("prompt 8,432 tokens of 16,384 context"),
            "{text}"
        );
        assert!(!text.contains("cached"), "{text}");
        assert!(text.contains("first token 2.3 s"), "{text}");
    }
}
