//! An entry's bytes as `verify` reads them: raw from the zip, inflated by one decompressor for
//! the whole bundle, CRC-32 and size checked at the end. (The zip crate makes a decompressor
//! per entry; glibc's heap then grew by about 27 KB an entry: 820 MB to verify 30 000.)

use std::io::Read;

use flate2::{Decompress, FlushDecompress, Status};

pub(super) struct Inflater {
    inflate: Decompress,
    input: Vec<u8>,
    output: Vec<u8>,
}

impl Inflater {
    pub(super) fn new() -> Inflater {
        Inflater {
            inflate: Decompress::new(false),
            input: vec![0; 1 << 16],
            output: vec![0; 1 << 16],
        }
    }

    /// Gives `each` the entry's bytes in order; `Err` says what is wrong with the entry (or
    /// what `each` refused).
    pub(super) fn read(
        &mut self,
        mut raw: impl Read,
        method: zip::CompressionMethod,
        crc: u32,
        size: u64,
        mut each: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        let deflated = match method {
            zip::CompressionMethod::Stored => false,
            zip::CompressionMethod::Deflated => true,
            other => {
                return Err(format!(
                    "compression method {other} (a bundle uses deflate)"
                ))
            }
        };
        self.inflate.reset(false);
        let mut sum = crc32fast::Hasher::new();
        let mut total = 0u64;
        let mut ended = !deflated;
        loop {
            let n = raw.read(&mut self.input).map_err(|e| e.to_string())?;
            if !deflated {
                if n == 0 {
                    break;
                }
                sum.update(&self.input[..n]);
                total += n as u64;
                each(&self.input[..n])?;
                continue;
            }
            let mut at = 0;
            // Until this piece of input is used up (or, at the end of the input, the stream).
            loop {
                let (before_in, before_out) = (self.inflate.total_in(), self.inflate.total_out());
                let flush = if n == 0 {
                    FlushDecompress::Finish
                } else {
                    FlushDecompress::None
                };
                let status = self
                    .inflate
                    .decompress(&self.input[at..n], &mut self.output, flush)
                    .map_err(|e| format!("not valid deflate data: {e}"))?;
                let used = (self.inflate.total_in() - before_in) as usize;
                let made = (self.inflate.total_out() - before_out) as usize;
                at += used;
                sum.update(&self.output[..made]);
                total += made as u64;
                each(&self.output[..made])?;
                if status == Status::StreamEnd {
                    ended = true;
                    break;
                }
                // All input used and room left for output: it needs more input.
                if at == n && made < self.output.len() {
                    break;
                }
                if used == 0 && made == 0 {
                    return Err("not valid deflate data".into());
                }
            }
            if ended || n == 0 {
                break;
            }
        }
        if !ended {
            return Err("its deflate data ends early".into());
        }
        if total != size {
            return Err(format!("{total} bytes where the zip says {size}"));
        }
        if sum.finalize() != crc {
            return Err("CRC-32 does not match".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflated(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(5));
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    fn read(
        inflater: &mut Inflater,
        raw: &[u8],
        method: zip::CompressionMethod,
        crc: u32,
        size: u64,
    ) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        inflater.read(raw, method, crc, size, |p| {
            out.extend_from_slice(p);
            Ok(())
        })?;
        Ok(out)
    }

    /// One inflater reads entry after entry (sizes around its buffers), and refuses a cut,
    /// a changed byte, a wrong size and a method a bundle never uses.
    #[test]
    fn entries_read_back_and_damage_is_named() {
        let mut inflater = Inflater::new();
        let (deflate, store) = (
            zip::CompressionMethod::Deflated,
            zip::CompressionMethod::Stored,
        );
        for len in [0usize, 1, 65_535, 65_536, 65_537, 300_000] {
            let data: Vec<u8> = (0..len)
                .map(|i| (i * 7 % 251) as u8 ^ (i / 1000) as u8)
                .collect();
            let crc = crc32fast::hash(&data);
            let z = deflated(&data);
            assert_eq!(
                read(&mut inflater, &z, deflate, crc, len as u64).unwrap(),
                data
            );
            assert_eq!(
                read(&mut inflater, &data, store, crc, len as u64).unwrap(),
                data
            );
            if len > 1000 {
                let cut = read(&mut inflater, &z[..z.len() / 2], deflate, crc, len as u64);
                assert!(cut.is_err(), "a cut entry");
                let mut changed = data.clone();
                changed[len / 2] ^= 1;
                let err = read(&mut inflater, &changed, store, crc, len as u64).unwrap_err();
                assert!(err.contains("CRC-32"), "{err}");
            }
            let err = read(&mut inflater, &z, deflate, crc, len as u64 + 1).unwrap_err();
            assert!(err.contains("where the zip says"), "{err}");
        }
        let err = read(&mut inflater, b"x", zip::CompressionMethod::SHRINK, 0, 1).unwrap_err();
        assert!(err.contains("compression method"), "{err}");
    }
}
