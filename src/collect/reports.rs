//! Every file's redaction report, kept as the run goes: the totals and the pseudonym map's rows
//! in memory, the per-file rows (counts and first line numbers, never a value) in a `Spill`, so
//! a collect of any number of files holds a fixed amount of them. redaction-report.json,
//! report.html's per-file table and the map beside the bundle are read from it at the end.

use super::*;
use crate::redact::pseudonym::MapRows;
use crate::spill::Spill;
use serde::Serialize;
use std::path::PathBuf;

pub(crate) struct Reports {
    rows: Spill<(String, FileReport)>,
    by_rule: BTreeMap<String, u64>,
    map: MapRows,
}

impl Reports {
    /// Reports whose rows, past what memory holds, wait in `dir` (the bundle's).
    pub(super) fn new(dir: Option<PathBuf>) -> Reports {
        Reports {
            rows: Spill::new(dir),
            by_rule: BTreeMap::new(),
            map: MapRows::default(),
        }
    }

    /// The report of the entry `path`, as its entry is written.
    pub(super) fn push(&mut self, path: String, mut report: FileReport) {
        for (rule, hits) in &report.by_rule {
            *self.by_rule.entry(rule.clone()).or_default() += hits.count;
        }
        self.map.add(&path, &mut report);
        self.rows.push((path, report));
    }

    /// The bundle's counts by rule, with `last`'s (a report not pushed yet).
    pub(super) fn redactions(&self, last: &FileReport) -> Redactions {
        let mut by_rule = self.by_rule.clone();
        for (rule, hits) in &last.by_rule {
            *by_rule.entry(rule.clone()).or_default() += hits.count;
        }
        Redactions {
            total: by_rule.values().sum(),
            by_rule,
        }
    }

    /// Redactions per file for report.html: the first rows, then `last`, and how many in all.
    pub(super) fn by_file(
        &self,
        last: &(String, FileReport),
    ) -> crate::html::Rows<'static, (String, u64)> {
        let mut first: Vec<(String, u64)> = self
            .rows
            .iter()
            .take(crate::html::ROWS)
            .map_while(Result::ok)
            .map(|(file, report)| (file, report.total))
            .collect();
        if first.len() < crate::html::ROWS {
            first.push((last.0.clone(), last.1.total));
        }
        crate::html::Rows {
            first: std::borrow::Cow::Owned(first),
            total: self.rows.len() + 1,
        }
    }

    /// What redaction-report.json takes, about: the rows as compact JSON (written pretty and
    /// deflated they come to less), for `--max-bundle-bytes`' reserve.
    pub(super) fn bytes(&self) -> u64 {
        self.rows.bytes()
    }

    /// The pseudonym map's rows.
    pub(super) fn map(&self) -> &MapRows {
        &self.map
    }

    /// redaction-report.json: every file's rows, then `last`'s, streamed as they are read back.
    pub(super) fn report<'a>(&'a self, last: &'a (String, FileReport)) -> RedactionReport<'a> {
        RedactionReport {
            note: "line numbers: the first 50 per rule and file; counts are exact; values are never recorded",
            redactions: ReportRows { reports: self, last },
        }
    }
}

/// redaction-report.json (fields in name order: the file as it has always been written).
#[derive(Serialize)]
pub(super) struct RedactionReport<'a> {
    note: &'static str,
    redactions: ReportRows<'a>,
}

pub(super) struct ReportRows<'a> {
    reports: &'a Reports,
    last: &'a (String, FileReport),
}

/// One rule's count in one file.
#[derive(Serialize)]
struct Row<'a> {
    count: u64,
    file: &'a str,
    lines: &'a [u64],
    rule: &'a str,
}

impl Serialize for ReportRows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = s.serialize_seq(None)?;
        let mut rows = |(file, report): &(String, FileReport)| {
            report.by_rule.iter().try_for_each(|(rule, hits)| {
                seq.serialize_element(&Row {
                    count: hits.count,
                    file,
                    lines: &hits.lines,
                    rule,
                })
            })
        };
        for read in self.reports.rows.iter() {
            rows(&read.map_err(S::Error::custom)?)?;
        }
        rows(self.last)?;
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(rules: &[(&str, u64)]) -> FileReport {
        let mut report = FileReport::default();
        for (rule, count) in rules {
            for line in 0..*count {
                report.add(rule, line + 1);
            }
        }
        report
    }

    /// The streamed report is the one the list of reports renders, and the counts add up.
    #[test]
    fn the_report_streams_what_the_list_held() {
        let mut reports = Reports::new(None);
        let made: Vec<(String, FileReport)> = (0..40)
            .map(|i| {
                (
                    format!("logs/edgemicro-{i}.log"),
                    report(&[("bearer", i % 3), ("password", 1)]),
                )
            })
            .collect();
        for (path, r) in &made {
            reports.push(path.clone(), r.clone());
        }
        let last = ("system/facts.json".to_string(), report(&[("emg_key", 2)]));
        let rows: Vec<serde_json::Value> = made
            .iter()
            .chain(std::iter::once(&last))
            .flat_map(|(file, r)| {
                r.by_rule.iter().map(move |(rule, hits)| {
                    json!({"rule": rule, "file": file, "count": hits.count, "lines": hits.lines})
                })
            })
            .collect();
        let want = json!({"note": "line numbers: the first 50 per rule and file; counts are exact; values are never recorded", "redactions": rows});
        assert_eq!(
            serde_json::to_string_pretty(&reports.report(&last)).unwrap(),
            serde_json::to_string_pretty(&want).unwrap()
        );
        let sums = reports.redactions(&last.1);
        assert_eq!(sums.by_rule["password"], 40);
        assert_eq!(sums.by_rule["bearer"], (0..40).map(|i| i % 3).sum::<u64>());
        assert_eq!(sums.by_rule["emg_key"], 2);
        assert_eq!(sums.total, sums.by_rule.values().sum::<u64>());
        let by_file = reports.by_file(&last);
        assert_eq!(by_file.total, 41);
        assert_eq!(
            by_file.first.last().unwrap(),
            &("system/facts.json".to_string(), 2)
        );
    }
}
