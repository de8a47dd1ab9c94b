//! The onepass binary: a shim around [`onepass::run`].

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let env = onepass::env::Env::from_process();
    let mut stdin = std::io::stdin().lock();
    let mut stdout = BrokenPipeOk(std::io::stdout().lock());
    let mut stderr = std::io::stderr();
    let code = onepass::run(
        std::env::args_os(),
        &env,
        onepass::Io {
            stdin: &mut stdin,
            stdout: &mut stdout,
            stderr: &mut stderr,
        },
    );
    ExitCode::from(code)
}

/// Standard output whose reader went away (`onepass pack … | head`) is not an error: the rest is discarded.
struct BrokenPipeOk<W: Write>(W);

impl<W: Write> Write for BrokenPipeOk<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(buf.len()),
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}
