//! The streaming stage of `collect`: configs, then logs (plain, rotated, gzip, stdin), each
//! read in whole-line blocks, redacted, triaged and handed to the zip in bounded chunks.

use super::*;

/// Redacted bytes are handed to the zip in chunks of this size.
pub(super) const CHUNK: usize = 256 << 10;
/// Whole lines read and redacted per automaton pass.
pub(super) const BLOCK: usize = 256 << 10;
/// Chunks between the two stages: bounds memory at about IN_FLIGHT × CHUNK.
pub(super) const IN_FLIGHT: usize = 4;

/// Every source in order: configs first (their secrets are already literals for the rest), then
/// the log files, a piped log, the systemd journal.
#[allow(clippy::too_many_arguments)]
pub(super) fn stream_sources(
    settings: &Settings,
    rules: &RuleSet,
    stream: &Stream,
    facts: &facts::Facts,
    found: &mut Discovery,
    writer: &mut BundleWriter,
    reports: &mut Reports,
) -> Result<Kept> {
    collect_configs(found, rules, stream.engine, writer, reports)?;
    let kept = collect_logs(settings, found, facts, stream, writer, reports).map_err(|e| {
        // The whole bundle holds about what is in it before the logs plus every log byte.
        let before_logs: u64 = writer
            .files()
            .iter()
            .map_while(Result::ok)
            .filter(|f| !f.path.starts_with("logs/"))
            .map(|f| f.bytes)
            .sum();
        let total = before_logs + stream.progress.length().unwrap_or(0);
        crate::bundle::disk_full_estimated(e, Some((writer.plain_bytes(), total)))
    })?;
    if let Some(name) = &settings.stdin_log {
        collect_stdin_log(name, settings, stream, writer, reports, found)?;
    }
    super::collect_journal(settings, stream, writer, reports, found)?;
    Ok(kept)
}

/// The logs collected, as the manifest lists them (newest first), and the newest itself.
pub(super) struct Kept {
    pub(super) listing: crate::spill::Spill<crate::bundle::LogListed>,
    pub(super) newest: Option<LogFile>,
}

pub(super) fn collect_configs(
    found: &Discovery,
    rules: &RuleSet,
    engine: &TextEngine,
    writer: &mut BundleWriter,
    reports: &mut Reports,
) -> Result<()> {
    for config in &found.configs {
        let path = format!("config/{}", config.name);
        let (bytes, report) =
            redact::redact_config(rules, engine, &config.name, &config.text, &config.yaml)?;
        writer.small(
            &path,
            &config.path.display().to_string(),
            &bytes,
            report.total,
        )?;
        reports.push(path, report);
    }
    Ok(())
}

/// How a log copy ended.
pub(super) enum Copied {
    Whole,
    /// A read error ended the file early (the entry keeps what was read).
    ReadError(std::io::Error),
    /// A limit was reached while copying: the entry holds the first part.
    Limited(&'static str),
}

/// How logs are streamed: the time window, the interrupt flag, the progress bar, the triage.
/// The triage reads every redacted line on its way to the zip (one pass over the logs).
pub(super) struct Stream<'a> {
    /// Every line passes through it before anything else sees it.
    pub(super) engine: &'a TextEngine<'a>,
    pub(super) window: &'a TimeWindow,
    pub(super) limits: &'a Limits,
    pub(super) interrupt: &'a Interrupt,
    pub(super) progress: &'a indicatif::ProgressBar,
    pub(super) triage: &'a std::cell::RefCell<crate::analyze::logs::Triage>,
}

/// When the room the trailing entries need is measured again. Measuring renders them all, and
/// they grow with the files: before every log it made 20 000 small logs quadratic (40 s
/// against 5). So: before a log only while it could fill the room left, else after every 256
/// logs or 64 MiB of them (the per-file part of the reserve already counts the files still to
/// come; the seal refuses a bundle over the limit whatever the estimate said), and never once
/// a bundle limit is reached (it holds for every later log: the bundle only grows).
#[derive(Default)]
struct Remeasure {
    /// The log and the bytes streamed before it at the last measure.
    last: Option<(usize, u64)>,
    streamed: u64,
    full: bool,
}

impl Remeasure {
    /// Whether to measure before log `i` of `plain` bytes, with `room` left after the reserve.
    fn due(&mut self, i: usize, plain: u64, room: u64) -> bool {
        let short = room < 2 * plain + (64 << 10);
        let (streamed, last) = (self.streamed, self.last);
        self.streamed += plain;
        let due = !self.full
            && last
                .is_none_or(|(at, bytes)| short || i - at >= 256 || streamed - bytes >= 64 << 20);
        if due {
            self.last = Some((i, streamed));
        }
        due
    }
}

pub(super) fn collect_logs(
    settings: &Settings,
    found: &mut Discovery,
    facts: &crate::facts::Facts,
    stream: &Stream,
    writer: &mut BundleWriter,
    reports: &mut Reports,
) -> Result<Kept> {
    let mut budget = settings.max_log_bytes.unwrap_or(u64::MAX);
    let logs = std::mem::take(&mut found.logs);
    let count = logs.len();
    let mut kept = Kept {
        listing: writer.spill(),
        newest: None,
    };
    // The room the entries after the logs take, as they would be rendered now, and what the
    // next log (of `next` plain bytes) could add to them.
    let measure = |found: &Discovery, writer: &BundleWriter, reports: &Reports, to_come, next| {
        if stream.limits.bounded() {
            stream.limits.reserve.set(super::conclude::trailing_bytes(
                settings,
                &stream.triage.borrow(),
                found,
                facts,
                stream.engine,
                writer.files(),
                reports,
                to_come,
                next,
            ));
        }
    };
    let mut when = Remeasure::default();
    for (i, log) in logs.newest_first().enumerate() {
        let mut log = log.context("cannot read back the list of logs found")?;
        // A compressed rotation inflates: count it at ten times its size.
        let plain = if log.gz {
            log.size.saturating_mul(10)
        } else {
            log.size
        };
        if when.due(i, plain, stream.limits.room(writer.bytes_written())) {
            measure(found, writer, reports, count - i, plain);
        }
        // A secret in a file name (a key pasted into a rotated log's name) must not reach the
        // entry name, the manifest or the JSON.
        log.name = redacted_name(stream.engine, &log.name);
        let source = redacted_name(stream.engine, &log.path.display().to_string());
        if let Some(reason) = out_of_bounds(&log, budget, stream, writer) {
            when.full |= stream.limits.reached(writer.bytes_written()).is_some();
            found.skipped.push(Skipped {
                source,
                reason: reason.into(),
            });
            continue;
        }
        let opened = match open_log(&log, settings.follow_hardlinks) {
            Ok(opened) => opened,
            Err(reason) => {
                found.skipped.push(Skipped { source, reason });
                continue;
            }
        };
        let copied = if log.gz {
            copy_gz_log(&log, opened.file, &source, budget, stream, writer)?
        } else {
            copy_plain_log(&log, opened, &source, budget, stream, writer)?
        };
        budget -= copied.bytes.min(budget);
        found.skipped.extend(copied.skipped);
        found.warnings.extend(copied.warnings);
        reports.push(copied.report.0, copied.report.1);
        kept.listing.push(crate::bundle::LogListed::of(&log));
        kept.newest.get_or_insert(log);
    }
    // The journal and stdin come next, of a size nobody knows.
    measure(found, writer, reports, 2, u64::MAX);
    Ok(kept)
}

/// Why a log is not read at all: written before `--since`, no `--max-log-bytes` left (the newest
/// were taken first), or the bundle's size or time limit reached.
fn out_of_bounds(
    log: &LogFile,
    budget: u64,
    stream: &Stream,
    writer: &BundleWriter,
) -> Option<&'static str> {
    if stream.window.older_than_since(log.modified) {
        Some("last written before --since")
    } else if budget == 0 {
        Some("over --max-log-bytes (newest logs are taken first)")
    } else {
        stream.limits.reached(writer.bytes_written())
    }
}

/// Opens a listed log again, refusing what it must not read: a file swapped for a link or a
/// hard link after the listing, UTF-16 text the rules cannot read.
fn open_log(log: &LogFile, follow_hardlinks: bool) -> Result<crate::safe_fs::Opened, String> {
    let dir = log.path.parent().unwrap_or(std::path::Path::new("/"));
    let opened = open_in_dir(dir, log.path.file_name().unwrap_or_default())?;
    if let Some(reason) = utf16_reason(&opened.file) {
        return Err(reason);
    }
    // Checked again on what was opened: a file swapped for a link after the listing.
    match crate::safe_fs::hardlink_reason(dir, &opened.meta).filter(|_| !follow_hardlinks) {
        Some(reason) => Err(reason),
        None => Ok(opened),
    }
}

/// A plain log, its newest `budget` bytes, up to the size it had when opened: a log that grows
/// while read ends there, one that shrinks ends early, and both are said.
fn copy_plain_log(
    log: &LogFile,
    opened: crate::safe_fs::Opened,
    source: &str,
    budget: u64,
    stream: &Stream,
    writer: &mut BundleWriter,
) -> Result<LogCopied> {
    let size = opened.meta.len();
    let take = size.min(budget);
    let path = format!("logs/{}", log.name);
    let mut file = opened.file;
    let mut entry = writer.entry(&path)?;
    let mut redactor = stream.engine.file();
    let start = size - take;
    let mut limited = (&mut file).take(take);
    let outcome = match limited.get_mut().seek(SeekFrom::Start(start)) {
        Ok(_) => copy_log(&mut limited, start > 0, &mut redactor, stream, &mut entry),
        Err(e) => Ok(Copied::ReadError(e)),
    };
    // A live log changes under us: copy what it held at open, and say what happened.
    let read = take - limited.limit();
    let now = file.metadata().map(|m| m.len()).unwrap_or(size);
    let completed = matches!(outcome, Ok(Copied::Whole));
    let mut warnings = Vec::new();
    let mut skipped = None;
    if completed && read < take {
        warnings.push(format!(
            "{}: shrank while being read (truncated or rotated?): {read} of {size} bytes copied",
            log.name
        ));
    } else if now > size {
        warnings.push(format!(
            "{}: grew while being read; the {size} bytes it had when opened were copied",
            log.name
        ));
    }
    // Skipped bytes of a truncated file count as done for the bar.
    stream.progress.inc(size - take);
    let truncated = match outcome? {
        Copied::Whole => take < size,
        Copied::ReadError(read_error) => {
            skipped = Some(Skipped {
                source: source.to_string(),
                reason: format!("read stopped: {}", io_reason(&read_error)),
            });
            true
        }
        Copied::Limited(reason) => {
            warnings.push(format!("{}: cut short, {reason}", log.name));
            true
        }
    };
    if take < size {
        warnings.push(format!(
            "{}: only the newest {} of {} bytes (--max-log-bytes)",
            log.name, take, size
        ));
    }
    if redactor.open_block() {
        warnings.push(format!(
            "{}: a private key block had no END line; redacted to the end of its key material",
            log.name
        ));
    }
    entry.finish(source, redactor.report.total, truncated)?;
    Ok(LogCopied {
        bytes: take,
        report: (path, redactor.report),
        skipped,
        warnings,
    })
}

/// A UTF-16 log (a PowerShell redirect, some Windows log shippers): the rules read UTF-8 and
/// ASCII, so it would pass unredacted. It is skipped with the way to convert it.
pub(super) fn utf16_reason(file: &std::fs::File) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let mut head = [0u8; 64];
    let n = file.read_at(&mut head, 0).ok()?;
    let head = &head[..n];
    let bom = head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]);
    let pairs = head.len() / 2;
    let nul_odd = head
        .chunks_exact(2)
        .filter(|p| p[1] == 0 && p[0] != 0)
        .count();
    let nul_even = head
        .chunks_exact(2)
        .filter(|p| p[0] == 0 && p[1] != 0)
        .count();
    let patterned = pairs >= 4 && (nul_odd * 4 >= pairs * 3 || nul_even * 4 >= pairs * 3);
    let big_endian = head.starts_with(&[0xfe, 0xff]) || (!bom && nul_even > nul_odd);
    let from = if big_endian { "UTF-16BE" } else { "UTF-16LE" };
    (bom || patterned).then(|| {
        format!("{from} text (a PowerShell redirect?): not collected, since the redaction rules read UTF-8; convert it (iconv -f {from} -t UTF-8 FILE) and pass it with --stdin-log")
    })
}

/// A file name through the text rules (known secrets, tokens, keys): the name as an entry.
pub(super) fn redacted_name(engine: &TextEngine, name: &str) -> String {
    let mut out = Vec::with_capacity(name.len());
    engine.file().line(name.as_bytes(), false, &mut out);
    String::from_utf8(out).unwrap_or_else(|_| name.to_string())
}

/// What copying one log did: the bytes it took from the budget, its redactions, and what to
/// tell the operator.
pub(super) struct LogCopied {
    bytes: u64,
    report: (String, FileReport),
    skipped: Option<Skipped>,
    warnings: Vec<String>,
}

/// A gzip-compressed rotation, decompressed while read, through the same redaction and limits:
/// at most `budget` decompressed bytes (its first ones: a gzip stream cannot be read from the
/// end), so a small file that inflates without end is cut, never held.
pub(super) fn copy_gz_log(
    log: &LogFile,
    file: std::fs::File,
    source: &str,
    budget: u64,
    stream: &Stream,
    writer: &mut BundleWriter,
) -> Result<LogCopied> {
    let name = log.name.strip_suffix(".gz").unwrap_or(&log.name);
    let path = format!("logs/{name}");
    let limit = budget.min(MAX_GZ_INFLATED);
    let mut entry = writer.entry(&path)?;
    let mut redactor = stream.engine.file();
    let mut limited = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)).take(limit);
    let outcome = copy_log(&mut limited, false, &mut redactor, stream, &mut entry)?;
    let read = limit - limited.limit();
    let more = limited.limit() == 0 && limited.into_inner().read(&mut [0u8; 1]).unwrap_or(0) > 0;
    let (mut skipped, mut warnings, mut truncated) = (None, Vec::new(), more);
    match outcome {
        Copied::Whole => {}
        Copied::ReadError(e) => {
            truncated = true;
            skipped = Some(Skipped {
                source: source.to_string(),
                reason: format!("gzip stream stopped: {}", io_reason(&e)),
            });
        }
        Copied::Limited(reason) => {
            truncated = true;
            warnings.push(format!("{name}: cut short, {reason}"));
        }
    }
    if more {
        // Said instead of a cut: the limit is what stopped it.
        warnings.clear();
        warnings.push(format!(
            "{name}: only the first {read} decompressed bytes (--max-log-bytes, or {MAX_GZ_INFLATED} for one compressed log)"
        ));
    }
    entry.finish(source, redactor.report.total, truncated)?;
    Ok(LogCopied {
        bytes: read,
        report: (path, redactor.report),
        skipped,
        warnings,
    })
}

/// The most one compressed log may inflate to (a gzip bomb is cut here).
pub(super) const MAX_GZ_INFLATED: u64 = 8 << 30;

/// `--stdin-log NAME`: a log piped in (`docker logs`, `kubectl logs`), redacted and bounded by
/// `--max-log-bytes` (the first bytes: pipe `--since`/`--tail` output to choose the newest).
pub(super) fn collect_stdin_log(
    name: &str,
    settings: &Settings,
    stream: &Stream,
    writer: &mut BundleWriter,
    reports: &mut Reports,
    found: &mut Discovery,
) -> Result<()> {
    use std::io::IsTerminal;
    crate::container::check_log_name(name)?;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(crate::exit::Fail::usage(
            "--stdin-log: stdin is a terminal",
            "pipe the log in: docker logs gw1 2>&1 | edgemicro-diag collect -y --stdin-log gw1.log",
        )
        .into());
    }
    let path = format!("logs/{name}");
    if writer
        .files()
        .iter()
        .any(|f| f.is_ok_and(|f| f.path == path))
    {
        return Err(crate::exit::Fail::usage(
            format!("--stdin-log: `{name}` is also a log file name"),
            "choose another name",
        )
        .into());
    }
    // `Stdin` (not its lock, which is tied to this thread) goes to the reader stage.
    let mut input = stdin;
    let mut entry = writer.entry(&path)?;
    let copied = copy_pipe(
        &mut input, name, "stdin", "stdin", settings, stream, &mut entry, found,
    )?;
    entry.finish("stdin", copied.report.total, copied.truncated)?;
    reports.push(path, copied.report);
    Ok(())
}

/// How a piped log ended.
pub(super) struct PipeCopy {
    pub(super) report: FileReport,
    /// Cut by a limit (`--max-log-bytes` while the pipe had more, or the bundle's): the entry
    /// holds the first part.
    pub(super) truncated: bool,
}

/// Streams a pipe (stdin, journalctl) into `entry` like a log file: redacted and triaged, at
/// most `--max-log-bytes`, never waiting past `--max-seconds` or a signal (a followed pipe,
/// `docker logs -f`, stalls). A read error is listed as skipped under `source`; a limit is a
/// warning naming `label` and `what` was read.
#[allow(clippy::too_many_arguments)]
pub(super) fn copy_pipe<R: Read + Send + std::os::fd::AsFd>(
    pipe: &mut R,
    label: &str,
    what: &str,
    source: &str,
    settings: &Settings,
    stream: &Stream,
    entry: &mut crate::bundle::Entry,
    found: &mut Discovery,
) -> Result<PipeCopy> {
    let limit = settings.max_log_bytes.unwrap_or(u64::MAX);
    let mut redactor = stream.engine.file();
    let polled = Polled {
        inner: &mut *pipe,
        deadline: stream.limits.deadline,
        interrupt: stream.interrupt,
    };
    let mut limited = polled.take(limit);
    let outcome = copy_log(&mut limited, false, &mut redactor, stream, entry)?;
    let at_limit = limited.limit() == 0;
    // Whether the pipe had more than the limit: one byte, waited for a second at most.
    let mut more = Polled {
        inner: pipe,
        deadline: Some(Instant::now() + std::time::Duration::from_secs(1)),
        interrupt: stream.interrupt,
    };
    let cut = at_limit && more.read(&mut [0u8; 1]).unwrap_or(0) > 0;
    let mut truncated = cut;
    match outcome {
        Copied::Whole => {}
        Copied::ReadError(e) => found.skipped.push(Skipped {
            source: source.to_string(),
            reason: format!("read stopped: {}", io_reason(&e)),
        }),
        Copied::Limited(reason) => {
            truncated = true;
            found.warnings.push(format!("{label}: cut short, {reason}"));
        }
    }
    if cut {
        found.warnings.push(format!(
            "{label}: only the first {limit} bytes of {what} (--max-log-bytes)"
        ));
    }
    Ok(PipeCopy {
        report: redactor.report,
        truncated,
    })
}

/// Reads a pipe (stdin, journalctl) without blocking past a deadline or a signal: poll in 200 ms slices, then read.
pub(super) struct Polled<'a, R> {
    pub(super) inner: &'a mut R,
    pub(super) deadline: Option<Instant>,
    pub(super) interrupt: &'a Interrupt,
}

impl<R: Read + std::os::fd::AsFd> Read for Polled<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        loop {
            if self.interrupt.check().is_err() || self.deadline.is_some_and(|d| Instant::now() >= d)
            {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "stopped waiting for stdin",
                ));
            }
            let mut fds = [PollFd::new(self.inner.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(200u16)) {
                Ok(0) => continue,
                Ok(_) => return self.inner.read(buf),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Streams one log: the newest `take` bytes of the first `size`, line by line, filtered by the
/// time window and redacted, into the bundle entry. A read error ends the file early and is
/// returned as `Ok(Some(_))` (the entry keeps what was read); write errors and signals are `Err`.
pub(super) fn copy_log(
    reader: impl Read + Send,
    skip_partial_line: bool,
    redactor: &mut redact::text::FileRedactor,
    stream: &Stream,
    entry: &mut crate::bundle::Entry,
) -> Result<Copied> {
    let mut triage = stream.triage.borrow_mut();
    triage.start_file();
    let triage: &mut crate::analyze::logs::Triage = &mut triage;
    // Two stages on two cores: this thread hashes, self-checks and deflates what the producer
    // reads, redacts and triages. The bounded channel keeps memory flat whatever the file size.
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (window, interrupt, progress) = (stream.window, stream.interrupt, stream.progress);
        let producer = scope.spawn(move || {
            produce(
                reader,
                skip_partial_line,
                redactor,
                window,
                interrupt,
                progress,
                triage,
                tx,
            )
        });
        let mut written = Ok(());
        let mut limited = None;
        for chunk in &rx {
            match put(entry, &chunk, stream.limits) {
                Ok(None) => {}
                Ok(Some(reason)) => {
                    limited = Some(reason);
                    break;
                }
                Err(e) => {
                    written = Err(e);
                    break;
                }
            }
        }
        drop(rx); // a producer still sending sees the consumer gone and stops
        let produced = producer.join().expect("the log reader does not panic");
        written?;
        match (limited, produced?) {
            (Some(reason), _) => Ok(Copied::Limited(reason)),
            (None, Some(e)) => Ok(Copied::ReadError(e)),
            (None, None) => Ok(Copied::Whole),
        }
    })
}

/// Writes a chunk of redacted lines into the entry within the limits: whole when it fits even
/// uncompressed; near `--max-bundle-bytes`, in slices of whole lines no larger than the room
/// left (measured exactly after the bytes in flight are settled), so the bundle never passes
/// the limit and a log is cut only where it must be. `Some(reason)`: a limit stopped it.
fn put(
    entry: &mut crate::bundle::Entry,
    chunk: &[u8],
    limits: &super::Limits,
) -> std::io::Result<Option<&'static str>> {
    let mut rest = chunk;
    while !rest.is_empty() && limits.over_bundle(entry.bundle_bytes() + rest.len() as u64) {
        if entry.in_flight() {
            entry.settle()?;
        }
        // Slices smaller than this are not worth a deflate piece each.
        let room = limits.room(entry.bundle_bytes());
        let slice = &rest[..rest.len().min(room as usize)];
        let fits = match slice.len() == rest.len() {
            true => slice.len(),
            false => memchr::memrchr(b'\n', slice).map_or(0, |i| i + 1),
        };
        if room < super::MIN_ROOM || fits == 0 {
            return Ok(Some(super::OVER_BUNDLE));
        }
        entry.write_all(&rest[..fits])?;
        rest = &rest[fits..];
    }
    // What was read is kept; the deadline ends the log after it.
    entry.write_all(rest)?;
    Ok(limits.past_deadline().then_some(super::PAST_DEADLINE))
}

/// The producer stage: whole-line blocks, each redacted in one automaton pass when every line
/// is kept; with `--since/--until` the lines of a block are decided and redacted one by one.
#[allow(clippy::too_many_arguments)]
pub(super) fn produce(
    reader: impl Read,
    skip_partial_line: bool,
    redactor: &mut redact::text::FileRedactor,
    window: &TimeWindow,
    interrupt: &Interrupt,
    progress: &indicatif::ProgressBar,
    triage: &mut crate::analyze::logs::Triage,
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
) -> Result<Option<std::io::Error>> {
    let mut out = Vec::with_capacity(CHUNK + BLOCK);
    let mut buf = Vec::with_capacity(BLOCK);
    let mut continues = false;
    let mut keep = true;
    let flush = |out: &mut Vec<u8>, last: bool| -> bool {
        if out.len() < CHUNK && !last {
            return true;
        }
        tx.send(std::mem::replace(out, Vec::with_capacity(CHUNK + BLOCK)))
            .is_ok()
    };
    let mut blocks = Blocks::new(reader, BLOCK);
    // Mid-line after a seek to the newest bytes: start at the next whole line.
    if skip_partial_line {
        if let Err(e) = blocks.skip_line() {
            return Ok(Some(e));
        }
    }
    loop {
        let kind = match blocks.next_into(&mut buf) {
            Ok(Some(kind)) => kind,
            Ok(None) => break,
            Err(e) => {
                flush(&mut out, true);
                return Ok(Some(e));
            }
        };
        progress.inc(buf.len() as u64);
        let at = out.len();
        match kind {
            _ if !window.is_open() => {
                for (i, line) in buf.split_inclusive(|b| *b == b'\n').enumerate() {
                    let rest_of_cut = continues && i == 0;
                    if !rest_of_cut {
                        // Lines without a timestamp (stack traces) follow their record.
                        keep = window.keeps(line).unwrap_or(keep);
                    }
                    if keep {
                        redactor.line(line, rest_of_cut, &mut out);
                    }
                }
            }
            Block::Lines => redactor.lines(&buf, continues, &mut out),
            Block::Piece(_) => redactor.line(&buf, continues, &mut out),
        }
        triage.block(&out[at..]);
        continues = kind == Block::Piece(Piece::Cut);
        if !flush(&mut out, false) {
            return Ok(None); // the writer stopped; its error is the one to report
        }
        interrupt.check()?;
    }
    flush(&mut out, true);
    interrupt.check()?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_measured_when_it_can_matter() {
        let plenty = u64::MAX;
        let mut when = Remeasure::default();
        let due: Vec<usize> = (0..600).filter(|&i| when.due(i, 8_000, plenty)).collect();
        assert_eq!(due, vec![0, 256, 512], "small logs with room: every 256");
        let mut when = Remeasure::default();
        let due: Vec<usize> = (0..10).filter(|&i| when.due(i, 40 << 20, plenty)).collect();
        assert_eq!(due, vec![0, 2, 4, 6, 8], "big logs: every 64 MiB");
        let mut when = Remeasure::default();
        assert!(when.due(0, 8_000, plenty));
        assert!(
            when.due(1, 8_000, 50_000),
            "a log that could fill the room left"
        );
        assert!(when.due(2, 8_000, 50_000));
        when.full = true;
        assert!(!when.due(3, 8_000, 0), "never once the limit is reached");
    }
}
