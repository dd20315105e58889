//! Reads a capture (pcap or pcapng; Ethernet, Linux SLL and SLL2) and follows each TCP
//! connection to a target port: idle gaps, who closed first, requests sent after the peer's FIN,
//! resets, and requests that got no answer.
//!
//! The two causes in the seed, as they look on the wire:
//! - keep-alive race: the target sends FIN after T s idle, EMG reuses the socket (a request after
//!   the target's FIN) and the target answers RST (seed: packets 262436 → 262441);
//! - early close: EMG sends a request, the target sends FIN or RST before any response byte
//!   (seed: packets 4 → 6).
//!
//! Works on header-only captures: payload sizes come from the IP length fields.

use crate::model::{FindingId, Severity};
use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;

use anyhow::{bail, Result};
use pcap_parser::data::{get_packetdata, PacketData};
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapBlockOwned, PcapError};
use serde::Serialize;

use super::Finding;

/// One TCP segment, as much as the analysis needs.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// 1-based, as Wireshark numbers packets.
    pub(crate) number: u64,
    pub(crate) time: f64,
    pub(crate) src: (IpAddr, u16),
    pub(crate) dst: (IpAddr, u16),
    pub(crate) syn: bool,
    pub(crate) fin: bool,
    pub(crate) rst: bool,
    pub(crate) payload: u32,
}

/// Reads every TCP segment of a capture, in file order.
pub(crate) fn segments(reader: impl Read + Send) -> Result<Vec<Segment>> {
    let mut reader = match pcap_parser::create_reader(1 << 16, reader) {
        Ok(r) => r,
        Err(PcapError::Eof) => return Ok(Vec::new()),
        Err(e) => bail!("not a pcap or pcapng file: {e:?}"),
    };
    let mut out = Vec::new();
    let mut linktypes: Vec<(Linktype, u64)> = Vec::new(); // per pcapng interface: linktype, ticks/s
    let mut legacy: Option<(Linktype, f64)> = None; // linktype, fraction unit (µs or ns)
    let mut number = 0u64;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        let unit = if h.is_nanosecond_precision() {
                            1e-9
                        } else {
                            1e-6
                        };
                        legacy = Some((h.network, unit));
                    }
                    PcapBlockOwned::Legacy(b) => {
                        number += 1;
                        if let Some((linktype, unit)) = legacy {
                            let time = b.ts_sec as f64 + b.ts_usec as f64 * unit;
                            if let Some(s) =
                                segment(number, time, b.data, linktype, b.caplen as usize)
                            {
                                out.push(s);
                            }
                        }
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        let resol = idb.ts_resolution().unwrap_or(1_000_000);
                        linktypes.push((idb.linktype, resol));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        number += 1;
                        if let Some((linktype, resol)) = linktypes.get(epb.if_id as usize).copied()
                        {
                            let ticks = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                            let time = ticks as f64 / resol as f64;
                            if let Some(s) =
                                segment(number, time, epb.data, linktype, epb.caplen as usize)
                            {
                                out.push(s);
                            }
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(_)) => number += 1,
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break; // a capture cut short by the byte bound ends mid-record
                }
            }
            Err(e) => bail!("cannot read the capture: {e:?}"),
        }
    }
    Ok(out)
}

fn segment(
    number: u64,
    time: f64,
    data: &[u8],
    linktype: Linktype,
    caplen: usize,
) -> Option<Segment> {
    let l3 = match get_packetdata(data, linktype, caplen)? {
        PacketData::L3(_, l3) => l3,
        // Ethernet (a capture on a named interface, loopback included): skip its header.
        PacketData::L2(frame) => {
            let header = etherparse::Ethernet2HeaderSlice::from_slice(frame).ok()?;
            let mut at = header.slice().len();
            let mut ether_type = header.ether_type();
            while ether_type == etherparse::EtherType::VLAN_TAGGED_FRAME {
                let vlan = etherparse::SingleVlanHeaderSlice::from_slice(frame.get(at..)?).ok()?;
                ether_type = vlan.ether_type();
                at += vlan.slice().len();
            }
            frame.get(at..)?
        }
        _ => return None,
    };
    let (src, dst, ip_len, ip_payload) = match l3.first()? >> 4 {
        4 => {
            let ip = etherparse::Ipv4HeaderSlice::from_slice(l3).ok()?;
            if ip.protocol() != etherparse::IpNumber::TCP {
                return None;
            }
            let hdr = ip.slice().len();
            (
                IpAddr::V4(ip.source_addr()),
                IpAddr::V4(ip.destination_addr()),
                hdr,
                (ip.total_len() as usize).saturating_sub(hdr),
            )
        }
        6 => {
            let ip = etherparse::Ipv6HeaderSlice::from_slice(l3).ok()?;
            if ip.next_header() != etherparse::IpNumber::TCP {
                return None;
            }
            (
                IpAddr::V6(ip.source_addr()),
                IpAddr::V6(ip.destination_addr()),
                40,
                ip.payload_length() as usize,
            )
        }
        _ => return None,
    };
    let tcp = etherparse::TcpHeaderSlice::from_slice(l3.get(ip_len..)?).ok()?;
    let payload = ip_payload.saturating_sub(tcp.slice().len()) as u32;
    Some(Segment {
        number,
        time,
        src: (src, tcp.source_port()),
        dst: (dst, tcp.destination_port()),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload,
    })
}

/// The evidence of a capture's keep-alive race finding. Fields in name order: findings.json
/// keeps the order it had as a JSON map.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub(crate) struct CaughtRaces {
    pub(crate) capture: String,
    /// The first five races.
    pub(crate) examples: Vec<RaceCaught>,
    /// What probes measured, when analyze probed the targets too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) probes: Option<serde_json::Value>,
    pub(crate) races: usize,
    /// The median idle time before the target's own FIN: its idle timeout, measured.
    pub(crate) target_idle_close_s_median: f64,
    pub(crate) target_idle_closes: usize,
    /// Each closing target with how it was measured, when probes or logs found them too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) targets: Option<serde_json::Value>,
}

/// One race: the target's FIN, EMG's request on the closing connection, the target's RST.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub(crate) struct RaceCaught {
    pub(crate) client: String,
    pub(crate) idle_before_fin_s: f64,
    pub(crate) request_after_fin_packet: u64,
    pub(crate) request_ms_after_fin: f64,
    pub(crate) target: String,
    pub(crate) target_fin_packet: u64,
    pub(crate) target_fin_time: Option<String>,
    pub(crate) target_rst_packet: Option<u64>,
}

/// What happened on one connection to a target.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Connection {
    pub(crate) client: String,
    pub(crate) target: String,
    pub(crate) packets: u64,
    /// Requests: client data after the target spoke (or the first client data).
    pub(crate) requests: u32,
    pub(crate) responses: u32,
    /// The target's first FIN: packet number, time, and how long the connection had been idle.
    pub(crate) target_fin: Option<(u64, f64, f64)>,
    pub(crate) client_fin: Option<u64>,
    /// A request sent after the target's FIN: packet number and ms after the FIN.
    pub(crate) request_after_target_fin: Option<(u64, f64)>,
    pub(crate) target_rst: Option<u64>,
    pub(crate) client_rst: Option<u64>,
    /// A request that got FIN or RST from the target before any response byte.
    pub(crate) unanswered: Option<(u64, u64)>,
    pub(crate) unanswered_time: Option<f64>,
    pub(crate) longest_idle_s: f64,
}

#[derive(Default)]
struct Track {
    conn: Option<Connection>,
    last_data: Option<f64>,
    last_time: f64,
    /// Packet number and time of a request not yet answered.
    pending: Option<(u64, f64)>,
    last_speaker_client: bool,
}

type Endpoint = (IpAddr, u16);

/// Follows every connection whose server side is one of `ports` (a target).
pub(crate) fn connections(segments: &[Segment], ports: &[u16]) -> Vec<Connection> {
    let mut tracks: BTreeMap<(Endpoint, Endpoint), Track> = BTreeMap::new();
    for s in segments {
        if let Some((client, target, from_client)) = sides(s, ports) {
            tracks
                .entry((client, target))
                .or_default()
                .see(s, client, target, from_client);
        }
    }
    tracks.into_values().filter_map(|t| t.conn).collect()
}

/// Which end is the target: a port of `ports`, or without known ports the lower port (clients
/// use ephemeral ones). `None` for a segment between two others.
fn sides(s: &Segment, ports: &[u16]) -> Option<(Endpoint, Endpoint, bool)> {
    let is_target = |port: u16, other: u16| {
        if ports.is_empty() {
            port < other
        } else {
            ports.contains(&port)
        }
    };
    if is_target(s.dst.1, s.src.1) {
        Some((s.src, s.dst, true))
    } else if is_target(s.src.1, s.dst.1) {
        Some((s.dst, s.src, false))
    } else {
        None
    }
}

impl Track {
    /// One segment of this connection: counts, idle gaps, FINs, RSTs and the request a close
    /// left unanswered.
    fn see(&mut self, s: &Segment, client: Endpoint, target: Endpoint, from_client: bool) {
        if s.syn && from_client && !s.rst {
            // A new connection on the same 4-tuple starts over.
            if self.conn.as_ref().is_some_and(|c| {
                c.target_fin.is_some() || c.client_fin.is_some() || c.target_rst.is_some()
            }) {
                *self = Track::default();
            }
        }
        let c = self.conn.get_or_insert_with(|| Connection {
            client: endpoint(client),
            target: endpoint(target),
            packets: 0,
            requests: 0,
            responses: 0,
            target_fin: None,
            client_fin: None,
            request_after_target_fin: None,
            target_rst: None,
            client_rst: None,
            unanswered: None,
            unanswered_time: None,
            longest_idle_s: 0.0,
        });
        c.packets += 1;
        if c.packets > 1 {
            c.longest_idle_s = c.longest_idle_s.max(s.time - self.last_time);
        }
        self.last_time = s.time;
        if s.payload > 0 {
            if from_client {
                if !self.last_speaker_client || c.requests == 0 {
                    c.requests += 1;
                    self.pending = Some((s.number, s.time));
                }
                if let Some((_, fin_time, _)) = c.target_fin {
                    c.request_after_target_fin
                        .get_or_insert((s.number, (s.time - fin_time) * 1000.0));
                }
                self.last_speaker_client = true;
            } else {
                if self.last_speaker_client || c.responses == 0 {
                    c.responses += 1;
                }
                self.pending = None;
                self.last_speaker_client = false;
            }
            self.last_data = Some(s.time);
        }
        if s.fin {
            if from_client {
                c.client_fin.get_or_insert(s.number);
            } else if c.target_fin.is_none() {
                let idle = self.last_data.map_or(0.0, |d| s.time - d);
                c.target_fin = Some((s.number, s.time, idle));
            }
        }
        if s.rst {
            if from_client {
                c.client_rst.get_or_insert(s.number);
            } else {
                c.target_rst.get_or_insert(s.number);
            }
        }
        if !from_client && (s.fin || s.rst) {
            if let Some((request, time)) = self.pending.take() {
                if c.unanswered.is_none() {
                    c.unanswered = Some((request, s.number));
                    c.unanswered_time = Some(time);
                }
            }
        }
    }
}

fn endpoint((ip, port): (IpAddr, u16)) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

/// The seed's two causes, from the connections of one capture.
pub(crate) fn findings(conns: &[Connection], capture_file: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let races: Vec<&Connection> = conns
        .iter()
        .filter(|c| c.request_after_target_fin.is_some())
        .collect();
    let idle_closes: Vec<f64> = conns
        .iter()
        .filter_map(|c| {
            c.target_fin
                .filter(|(_, _, idle)| {
                    *idle > 0.0
                        && c.unanswered
                            .is_none_or(|(_, end)| end != c.target_fin.map_or(0, |f| f.0))
                })
                .map(|f| f.2)
        })
        .collect();
    if !races.is_empty() || !idle_closes.is_empty() {
        let mut sorted = idle_closes.clone();
        sorted.sort_by(f64::total_cmp);
        let idle = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
        let examples: Vec<RaceCaught> = races
            .iter()
            .take(5)
            .map(|c| {
                let (fin, _, fin_idle) = c.target_fin.unwrap_or_default();
                let (req, after_ms) = c.request_after_target_fin.unwrap_or_default();
                RaceCaught {
                    client: c.client.clone(),
                    target: c.target.clone(),
                    target_fin_packet: fin,
                    target_fin_time: c.target_fin.map(|f| utc(f.1)),
                    idle_before_fin_s: round(fin_idle),
                    request_after_fin_packet: req,
                    request_ms_after_fin: round(after_ms),
                    target_rst_packet: c.target_rst,
                }
            })
            .collect();
        let (severity, summary) = if races.is_empty() {
            (Severity::Medium, format!(
                "The target closed idle keep-alive connections itself (FIN) after about {:.1} s idle ({} time(s)). EMG keeps pooled target sockets with no idle timeout, so a request can go out on a socket the target is closing: the keep-alive race behind 502 socket hang up / ECONNRESET. None was caught in this capture.",
                idle, idle_closes.len()
            ))
        } else {
            (Severity::High, format!(
                "Keep-alive race caught {} time(s): the target closed an idle connection (FIN after about {:.1} s idle) while EMG reused it for a new request; the target answered RST, which EMG reports as 502 socket hang up / ECONNRESET.",
                races.len(), idle
            ))
        };
        out.push(Finding {
            id: FindingId::KeepaliveRace,
            severity,
            confidence: crate::analyze::Confidence::High,
            confidence_reason: "seen in the capture: the packets themselves".into(),
            summary,
            evidence: crate::analyze::Figures::CaughtRaces(CaughtRaces {
                capture: capture_file.to_string(),
                races: races.len(),
                target_idle_closes: idle_closes.len(),
                target_idle_close_s_median: round(idle),
                examples,
                targets: None,
                probes: None,
            }),
            next_step: format!(
                "Every downstream hop must close idle connections before the hop upstream of it: make the target's keep-alive timeout clearly longer than the time EMG may keep a connection idle, or have the client side close first (the OS keep-alive on the EMG host). The target currently closes after about {:.1} s.",
                idle
            ),
        });
    }
    out.extend(hangup_finding(conns, capture_file));
    out
}

/// Connections the target closed (FIN or RST) before any response byte, outside a race.
fn hangup_finding(conns: &[Connection], capture_file: &str) -> Option<Finding> {
    let hangups: Vec<&Connection> = conns
        .iter()
        .filter(|c| c.unanswered.is_some() && c.request_after_target_fin.is_none())
        .collect();
    if hangups.is_empty() {
        return None;
    }
    let examples: Vec<serde_json::Value> = hangups
        .iter()
        .take(5)
        .map(|c| {
            let (req, close) = c.unanswered.unwrap_or_default();
            serde_json::json!({"client": c.client, "target": c.target, "request_packet": req, "request_time": c.unanswered_time.map(utc), "target_close_packet": close, "rst": c.target_rst == Some(close)})
        })
        .collect();
    Some(Finding {
        id: FindingId::TargetHangup,
        severity: Severity::High,
        confidence: crate::analyze::Confidence::High,
        confidence_reason: "seen in the capture: FIN or RST before any response byte".into(),
        summary: format!(
            "The target closed {} connection(s) before answering: EMG sent a request and the target sent FIN or RST before any response byte, which EMG reports as 502 socket hang up / ECONNRESET.",
            hangups.len()
        ),
        evidence: serde_json::json!({"capture": capture_file, "connections": hangups.len(), "examples": examples}).into(),
        next_step: "Look in the target's own logs at these times for a crash, a restart, a proxy or a size limit that drops the request, and fix it there (Apigee: \"502 Bad Gateway – Socket hang up\", Edge Microgateway).".into(),
    })
}

/// Capture time as RFC 3339 UTC with milliseconds, to line up with EMG's log timestamps.
fn utc(t: f64) -> String {
    chrono::DateTime::from_timestamp_millis((t * 1000.0) as i64).map_or_else(String::new, |d| {
        d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    })
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pcap (Ethernet link type) written by hand: the seed's keep-alive race on one
    /// connection, the early close on another.
    /// time, source, source port, destination, destination port, TCP flags, payload length
    type Frame = (f64, [u8; 4], u16, [u8; 4], u16, u8, u16);

    fn pcap(frames: &[Frame]) -> Vec<u8> {
        let mut out = vec![
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0,
            0,
        ];
        for &(t, src, sport, dst, dport, flags, payload) in frames {
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&[0x08, 0x00]);
            let total = 20 + 20 + payload;
            let mut ip = vec![
                0x45,
                0,
                (total >> 8) as u8,
                total as u8,
                0,
                0,
                0x40,
                0,
                64,
                6,
                0,
                0,
            ];
            ip.extend_from_slice(&src);
            ip.extend_from_slice(&dst);
            f.extend_from_slice(&ip);
            let mut tcp = vec![0u8; 20];
            tcp[..2].copy_from_slice(&sport.to_be_bytes());
            tcp[2..4].copy_from_slice(&dport.to_be_bytes());
            tcp[12] = 5 << 4;
            tcp[13] = flags;
            f.extend_from_slice(&tcp); // header only: the payload is not captured
            out.extend_from_slice(&(t as u32).to_le_bytes());
            out.extend_from_slice(&(((t.fract()) * 1e6) as u32).to_le_bytes());
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
            out.extend_from_slice(&((f.len() as u32) + payload as u32).to_le_bytes());
            out.extend_from_slice(&f);
        }
        out
    }

    /// The same frames as pcapng with the Linux SLL2 link type (`tcpdump -i any`, libpcap ≥ 1.10).
    fn pcapng_sll2(frames: &[Frame]) -> Vec<u8> {
        let legacy = pcap(frames);
        let block = |kind: u32, body: &[u8]| {
            let mut body = body.to_vec();
            while !body.len().is_multiple_of(4) {
                body.push(0);
            }
            let len = (12 + body.len()) as u32;
            let mut b = kind.to_le_bytes().to_vec();
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(&body);
            b.extend_from_slice(&len.to_le_bytes());
            b
        };
        let mut out = block(
            0x0A0D_0D0A,
            &[
                0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        );
        out.extend(block(1, &[0x14, 0x01, 0, 0, 0, 0, 0, 0])); // IDB: linktype 276, snaplen 0
        let mut at = 24;
        while at < legacy.len() {
            let sec = u32::from_le_bytes(legacy[at..at + 4].try_into().unwrap()) as u64;
            let usec = u32::from_le_bytes(legacy[at + 4..at + 8].try_into().unwrap()) as u64;
            let incl = u32::from_le_bytes(legacy[at + 8..at + 12].try_into().unwrap()) as usize;
            let orig = u32::from_le_bytes(legacy[at + 12..at + 16].try_into().unwrap());
            let ether = &legacy[at + 16..at + 16 + incl];
            let mut sll2 = vec![
                0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
            ];
            sll2.extend_from_slice(&ether[14..]);
            let ticks = sec * 1_000_000 + usec;
            let mut epb = 0u32.to_le_bytes().to_vec();
            epb.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
            epb.extend_from_slice(&(ticks as u32).to_le_bytes());
            epb.extend_from_slice(&(sll2.len() as u32).to_le_bytes());
            epb.extend_from_slice(&(orig + 6).to_le_bytes());
            epb.extend_from_slice(&sll2);
            out.extend(block(6, &epb));
            at += 16 + incl;
        }
        out
    }

    const EMG: [u8; 4] = [10, 0, 0, 1];
    const TGT: [u8; 4] = [10, 0, 0, 2];
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const PSH: u8 = 0x08;
    const FIN: u8 = 0x01;
    const RST: u8 = 0x04;

    #[test]
    fn seed_keepalive_race_and_early_close_are_recognized() {
        let frames = [
            (100.0, EMG, 40000, TGT, 8080, SYN, 0),
            (100.001, TGT, 8080, EMG, 40000, SYN | ACK, 0),
            (100.002, EMG, 40000, TGT, 8080, PSH | ACK, 120),
            (100.010, TGT, 8080, EMG, 40000, PSH | ACK, 300),
            (105.010, TGT, 8080, EMG, 40000, FIN | ACK, 0),
            (105.011, EMG, 40000, TGT, 8080, PSH | ACK, 120),
            (105.012, TGT, 8080, EMG, 40000, RST, 0),
            (200.0, EMG, 40001, TGT, 8080, SYN, 0),
            (200.001, TGT, 8080, EMG, 40001, SYN | ACK, 0),
            (200.002, EMG, 40001, TGT, 8080, PSH | ACK, 90),
            (200.003, TGT, 8080, EMG, 40001, ACK, 0),
            (200.004, TGT, 8080, EMG, 40001, FIN | ACK, 0),
            (300.0, EMG, 40002, [10, 0, 0, 9], 9999, SYN, 0),
        ];
        let segs = segments(&pcap(&frames)[..]).unwrap();
        assert_eq!(segs.len(), 13);
        let ng = segments(&pcapng_sll2(&frames)[..]).unwrap();
        assert_eq!(ng.len(), 13, "pcapng + SLL2 reads the same segments");
        assert_eq!(
            (ng[4].number, ng[4].fin, ng[6].rst, ng[2].payload),
            (5, true, true, 120)
        );
        assert!((ng[4].time - segs[4].time).abs() < 1e-6);
        assert_eq!(
            segs[2].payload, 120,
            "payload length from the IP header, not the capture"
        );
        let conns = connections(&segs, &[8080]);
        assert_eq!(conns.len(), 2, "the port-9999 connection is not a target");
        let race = &conns[0];
        assert_eq!(race.target_fin.map(|f| f.0), Some(5));
        assert!(
            (race.target_fin.unwrap().2 - 5.0).abs() < 0.01,
            "idle 5 s before the FIN"
        );
        assert_eq!(race.request_after_target_fin.map(|r| r.0), Some(6));
        assert_eq!(race.target_rst, Some(7));
        assert_eq!(conns[1].unanswered, Some((10, 12)));
        let found = findings(&conns, "capture/x.pcap");
        let ids: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, vec!["keepalive-race", "target-hangup"]);
        assert_eq!(found[0].severity, Severity::High);
        let caught = found[0]
            .evidence
            .caught_races()
            .expect("a race finding carries its races typed");
        assert_eq!(caught.examples[0].request_after_fin_packet, 6);
        assert_eq!(
            caught.examples[0].target_fin_time.as_deref(),
            Some("1970-01-01T00:01:45.010Z")
        );
        assert_eq!(
            found[1].evidence.json()["examples"][0]["request_packet"],
            10
        );
    }
}
