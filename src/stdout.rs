//! The one place a result reaches stdout: a reader that went away (`| head`, a dropped ssh)
//! is not a crash (println! would panic with exit 101); the work is done either way.

use std::io::Write;

pub(crate) fn print(text: std::fmt::Arguments) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_fmt(text)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
}

/// What `write` streams on stdout (a reader that went away ends it quietly).
pub(crate) fn stream(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let mut stdout = std::io::stdout().lock();
    let _ = write(&mut stdout);
}

/// `println!` through `print`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::print(format_args!($($arg)*))
    };
}
pub(crate) use out;
