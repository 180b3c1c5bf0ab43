//! Zip members (.npz arrays, torch.save records) read with their inflated size bounded
//! before anything is inflated: a member whose declared size is more than deflate can
//! produce from its compressed bytes is refused, naming the ratio; a member is inflated
//! at most to the size it declares, and must come out exactly that long.

use std::io::Read;

use crate::error::{Error, Result};

/// The most deflate can expand: its longest match copies 258 bytes and, with dynamic
/// Huffman codes of one bit for that length and one distance, costs 2 bits, so 1032
/// bytes out per byte in (the limit zlib's FAQ gives). A member declaring more than this
/// many times its compressed size lies about one of the two.
pub const MAX_DEFLATE_RATIO: u64 = 1032;
/// Bytes any stream may declare regardless of its compressed size (an empty or tiny
/// member's fixed overhead).
const SMALL: u64 = 1 << 10;

/// Checks a member's declared size against its compressed size and method before it is
/// inflated. `what` names it in the error ("member `a.npy` of w.npz").
pub(crate) fn check_member(
    what: &str,
    method: zip::CompressionMethod,
    compressed: u64,
    declared: u64,
) -> Result<()> {
    let fail = |reason: String| Err(Error::Invalid(format!("{what}: {reason}")));
    match method {
        zip::CompressionMethod::Stored if declared != compressed => fail(format!(
            "stored uncompressed, yet declares {declared} bytes for {compressed} in the archive"
        )),
        zip::CompressionMethod::Stored => Ok(()),
        zip::CompressionMethod::Deflated => {
            if declared
                > compressed
                    .saturating_mul(MAX_DEFLATE_RATIO)
                    .saturating_add(SMALL)
            {
                let ratio = declared / compressed.max(1);
                fail(format!(
                    "declares {declared} bytes inflated from {compressed} compressed, a ratio of {ratio}:1, more than deflate can produce ({MAX_DEFLATE_RATIO}:1); refused before inflating"
                ))
            } else {
                Ok(())
            }
        }
        m => fail(format!(
            "compressed with {m}, which quantscope does not read (stored or deflated only)"
        )),
    }
}

/// Reads one member whole: checked by [`check_member`] (its compressed size also
/// against the `archive_len` bytes the archive has), inflated once, at most to its
/// declared size, which it must then have exactly.
pub(crate) fn read_member<R: Read>(
    what: &str,
    entry: &mut zip::read::ZipFile<'_, R>,
    archive_len: u64,
) -> Result<Vec<u8>> {
    let declared = entry.size();
    if entry.compressed_size() > archive_len {
        return Err(Error::Invalid(format!(
            "{what}: declares {} compressed bytes, more than the {archive_len}-byte archive holds",
            entry.compressed_size()
        )));
    }
    check_member(what, entry.compression(), entry.compressed_size(), declared)?;
    let raw = read_capped(entry, declared).map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
    let more = entry.read(&mut [0u8; 1]).unwrap_or(0);
    if raw.len() as u64 != declared || more > 0 {
        return Err(Error::Invalid(format!(
            "{what}: inflates to {}{} bytes, its zip entry declares {declared}",
            if more > 0 { "more than " } else { "" },
            raw.len()
        )));
    }
    Ok(raw)
}

/// Reads at most `limit` bytes. The buffer grows with what actually arrives (doubling,
/// from 64 KiB) and never past `limit`, so a size that a header claims but the stream
/// does not deliver is never allocated (found by fuzz/fuzz_targets/zip.rs: reserving the
/// declared size up front let a 64 KiB input ask for 4 GiB).
fn read_capped<R: Read>(r: &mut R, limit: u64) -> std::io::Result<Vec<u8>> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out: Vec<u8> = Vec::with_capacity(limit.min(1 << 16));
    loop {
        if out.len() == limit {
            return Ok(out);
        }
        if out.len() == out.capacity() {
            let grow = out.capacity().max(1 << 16).min(limit - out.len());
            out.try_reserve_exact(grow).map_err(|_| {
                std::io::Error::other(format!("cannot hold {} bytes", out.len() + grow))
            })?;
        }
        let start = out.len();
        let room = out.capacity().min(limit) - start;
        out.resize(start + room, 0);
        let n = loop {
            match r.read(&mut out[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        out.truncate(start + n);
        if n == 0 {
            return Ok(out);
        }
    }
}

/// Inflates a raw deflate stream (`compressed`, a member's bytes in the archive) to
/// exactly `declared` bytes, skipping the first `skip` of them (an .npy header already
/// read) without keeping them: what a lazily listed member costs when it is read.
pub(crate) fn inflate(what: &str, compressed: &[u8], declared: u64, skip: u64) -> Result<Vec<u8>> {
    check_member(
        what,
        zip::CompressionMethod::Deflated,
        compressed.len() as u64,
        declared,
    )?;
    let mut d = flate2::read::DeflateDecoder::new(compressed);
    let io = |e: std::io::Error| Error::Invalid(format!("{what}: {e}"));
    let skipped = std::io::copy(&mut d.by_ref().take(skip), &mut std::io::sink()).map_err(io)?;
    let want = declared.saturating_sub(skip);
    let out = read_capped(&mut d, want).map_err(io)?;
    let more = d.read(&mut [0u8; 1]).map_err(io)?;
    if skipped != skip || out.len() as u64 != want || more > 0 {
        return Err(Error::Invalid(format!(
            "{what}: inflates to {}{} bytes, its zip entry declares {declared}",
            if more > 0 { "more than " } else { "" },
            skipped + out.len() as u64
        )));
    }
    Ok(out)
}

/// The first bytes of a deflated member (at most `limit`), for reading a header
/// without inflating the rest.
pub(crate) fn inflate_prefix<R: Read>(what: &str, compressed: R, limit: usize) -> Result<Vec<u8>> {
    let mut d = flate2::read::DeflateDecoder::new(compressed);
    let mut out = Vec::with_capacity(limit.min(1 << 16));
    d.by_ref()
        .take(limit as u64)
        .read_to_end(&mut out)
        .map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_beyond_deflate_is_refused_naming_it() {
        let e = check_member(
            "member `a.npy`",
            zip::CompressionMethod::Deflated,
            1000,
            5_000_000_000,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ratio of 5000000:1"), "{e}");
        assert!(e.contains("member `a.npy`"), "{e}");
        assert!(check_member("m", zip::CompressionMethod::Deflated, 1 << 20, 1 << 30).is_ok());
        assert!(check_member("m", zip::CompressionMethod::Stored, 10, 11).is_err());
    }

    #[test]
    fn inflate_is_exact_and_skips() {
        use std::io::Write;
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&data).unwrap();
        let z = enc.finish().unwrap();
        assert_eq!(inflate("m", &z, 5000, 100).unwrap(), data[100..]);
        assert_eq!(inflate_prefix("m", &z[..], 10).unwrap(), data[..10]);
        let e = inflate("m", &z, 4000, 0).unwrap_err().to_string();
        assert!(e.contains("declares 4000"), "{e}");
        let e = inflate("m", &z, 6000, 0).unwrap_err().to_string();
        assert!(e.contains("declares 6000"), "{e}");
    }
}
