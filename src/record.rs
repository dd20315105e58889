//! EMG's event record, the one parser the redactor and the triage share:
//! `<time> [level][host][pid][org][env][url][clientIP][clientId][corr][component][message]
//! [method][status][errMessage][errCode][ms]` (microgateway-core's lib/logging.js, 3.0.2 on).
//!
//! Fields are separated by `][`. A field may hold `]` (a host `[::1]:8000`) and the URL may even
//! hold `][` (`?a[x][y]=1`): the five fields before the URL are counted from the left, the ten
//! after it from the right, and the URL is what lies between.

/// Fields of an event record, the time not included.
pub const FIELDS: usize = 16;
/// Field numbers (0-based) the consumers name.
pub const HOST: usize = 1;
pub const URL: usize = 5;
pub const CLIENT_IP: usize = 6;
pub const CLIENT_ID: usize = 7;
pub const CORRELATION: usize = 8;

/// Where each part of one record lies in its line (byte ranges, end excluded).
#[derive(Debug, Clone, Copy)]
pub struct EventRecord {
    pub time: (usize, usize),
    pub fields: [(usize, usize); FIELDS],
    /// Exactly fifteen separators: no field needed the counting from both ends. Only such a
    /// record is trusted to place the clientId by position.
    pub exact: bool,
}

/// The record that makes up `line` from its first byte (a line ending may follow), or `None`
/// when the line does not read as one whole event record.
pub fn event_record(line: &[u8]) -> Option<EventRecord> {
    let text_end = line.len()
        - line
            .iter()
            .rev()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
    let text = &line[..text_end];
    if !text.first()?.is_ascii_digit() || text.last() != Some(&b']') {
        return None;
    }
    let space = memchr::memchr(b' ', text)?;
    if text.get(space + 1) != Some(&b'[') {
        return None;
    }
    let (start, end) = (space + 2, text_end - 1);
    let body = &text[start..end];
    let separator = |close: &usize| body.get(close + 1) == Some(&b'[');
    let mut left = [0usize; 5];
    let mut found = 0;
    for close in memchr::memchr_iter(b']', body).filter(separator) {
        left[found] = close;
        found += 1;
        if found == left.len() {
            break;
        }
    }
    if found < left.len() {
        return None;
    }
    let mut right = [0usize; 10];
    let mut found = 0;
    let mut total = 0;
    for close in memchr::memrchr_iter(b']', body).filter(separator) {
        if close <= left[4] {
            break;
        }
        total += 1;
        if found < right.len() {
            right[found] = close;
            found += 1;
        }
    }
    if found < right.len() {
        return None;
    }
    // Separator positions in order: the left five, then the right ten (found last first).
    let mut seps = [0usize; FIELDS - 1];
    seps[..5].copy_from_slice(&left);
    for (i, close) in right.iter().rev().enumerate() {
        seps[5 + i] = *close;
    }
    let mut fields = [(0, 0); FIELDS];
    let mut from = 0;
    for (i, field) in fields.iter_mut().enumerate() {
        let to = seps.get(i).copied().unwrap_or(body.len());
        *field = (start + from, start + to);
        from = to + 2;
    }
    let exact = total == right.len();
    // Counted from both ends, the URL must still be one: a request target holds no space, and
    // a space there is a second record spliced after a torn one (`…[e][torn2026-… [error]…`).
    let (url_from, url_to) = fields[URL];
    if !exact && memchr::memchr(b' ', &line[url_from..url_to]).is_some() {
        return None;
    }
    Some(EventRecord {
        time: (0, space),
        fields,
        exact,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(line: &str) -> Option<(String, Vec<String>, bool)> {
        let r = event_record(line.as_bytes())?;
        Some((
            line[r.time.0..r.time.1].to_string(),
            r.fields
                .iter()
                .map(|&(a, z)| line[a..z].to_string())
                .collect(),
            r.exact,
        ))
    }

    /// Many hosts, URLs and messages, with and without brackets: every field comes back as
    /// written, and only records whose fields hold no `][` are exact.
    #[test]
    fn every_field_comes_back_whatever_brackets_the_url_and_host_hold() {
        let hosts = [
            "127.0.0.1:8000",
            "[::1]:8000",
            "0:8000",
            "",
            "orders.internal:443",
        ];
        let urls = [
            "orders/v1",
            "orders?x[a]=1&y[]=2",
            "p/x?a[x][y]=1",
            "q?f=][&g=[[]]",
            "",
        ];
        let messages = [
            ("targetRequest error", "socket hang up"),
            ("", ""),
            ("m", "a [b] c"),
        ];
        for host in hosts {
            for url in urls {
                for (message, err) in messages {
                    let want = [
                        "error",
                        host,
                        "12",
                        "o",
                        "e",
                        url,
                        "::ffff:10.0.0.1",
                        "KEY123",
                        "f88e-d3d6",
                        "plugins-middleware",
                        message,
                        "GET",
                        "502",
                        err,
                        "ECONNRESET",
                        "5",
                    ];
                    let line = format!("2026-01-01T00:00:00.000Z [{}]\r\n", want.join("]["));
                    let (time, got, exact) = parts(&line).unwrap_or_else(|| panic!("{line}"));
                    assert_eq!(time, "2026-01-01T00:00:00.000Z");
                    assert_eq!(got, want, "{line}");
                    assert_eq!(exact, !url.contains("]["), "{line}");
                }
            }
        }
    }

    #[test]
    fn lines_that_are_not_one_whole_record_are_not_read_as_one() {
        for line in [
            "2021-06-23T03:52:24.110Z info 7928 worker 1 is online",
            "[info][a]",
            "x 2026-01-01T00:00:00.000Z [info][h][1][o][e][u][1.2.3.4][][c][m][x][GET][][][][]",
            "2026-01-01T00:00:00.000Z [info][h][1][o][e][u][1.2.3.4][][c][m][x][GET][][][]",
            "2026-01-01T00:00:00.000Z [info][h][1][o][e][u][1.2.3.4][][c][m][x][GET][][][][] tail",
            // A torn record, then a whole one: not one record with a long URL.
            "2026-01-01T00:00:00.000Z [error][0:8000][3][o][e][torn2026-01-01T00:00:00.001Z [error][h:1][3][o][e][u][1.2.3.4][][c][m][x][GET][502][][][]",
            "",
        ] {
            assert!(event_record(line.as_bytes()).is_none(), "{line}");
        }
    }
}
