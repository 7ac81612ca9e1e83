//! Every log line of the test binary, so a test can check what the service logs.

use std::sync::Mutex;

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogBuffer;

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = LOGS.lock() {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends the service's logs to the test's output and to [`logs`]; once per test binary.
pub fn init() {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let writer = tracing_subscriber::fmt::TestWriter::new().and(|| LogBuffer);
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter("info,shared=debug,local_api=debug")
        .try_init();
}

/// What the service has logged so far in this test binary.
pub fn logs() -> String {
    LOGS.lock()
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default()
}
