//! Where a model file's bytes come from: memory, a memory-mapped file (the CLI), or a
//! browser `File` read slice by slice (the page's worker). Readers that can list tensors
//! from a header ([`super::lazy`]) ask only for the ranges they need.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// Random access to the bytes of one file.
pub trait ByteSource {
    /// Size of the file in bytes.
    fn len(&self) -> u64;

    /// Exactly `len` bytes starting at `offset`. Callers check the range against
    /// [`ByteSource::len`] first; an implementation may still fail (an I/O error, a file
    /// that changed underneath) and says so in its error.
    fn read_at(&self, offset: u64, len: usize) -> Result<Cow<'_, [u8]>>;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when [`ByteSource::read_at`] borrows the bytes rather than copying them
    /// (memory, a memory map), for [`crate::budget`]'s estimate of a read.
    fn borrows(&self) -> bool {
        false
    }
}

/// Bytes already in memory (or memory-mapped): reads borrow, nothing is copied.
pub struct InMemory<T: AsRef<[u8]>>(pub T);

impl<T: AsRef<[u8]>> ByteSource for InMemory<T> {
    fn len(&self) -> u64 {
        self.0.as_ref().len() as u64
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Cow<'_, [u8]>> {
        let bytes = self.0.as_ref();
        let range = usize::try_from(offset)
            .ok()
            .and_then(|start| Some(start..start.checked_add(len)?))
            .filter(|r| r.end <= bytes.len())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "read of {len} bytes at offset {offset} runs past the end of a {}-byte file",
                    bytes.len()
                ))
            })?;
        Ok(Cow::Borrowed(&bytes[range]))
    }

    fn borrows(&self) -> bool {
        true
    }
}

/// Checks that `[offset, offset + len)` lies inside a file of `file_len` bytes, naming
/// `what` when it does not (the reader's words: "tensor `w`", "GGUF header").
pub(crate) fn check_range(what: &str, offset: u64, len: u64, file_len: u64) -> Result<()> {
    match offset.checked_add(len) {
        Some(end) if end <= file_len => Ok(()),
        _ => Err(Error::Invalid(format!(
            "{what}: bytes [{offset}, {offset}+{len}) lie past the end of the {file_len}-byte file (truncated file, or a header that claims more than the file holds)"
        ))),
    }
}

/// Reads a header front to back from a [`ByteSource`], fetching it in chunks so that a
/// header of any size costs a few calls (the page's source crosses into JavaScript on
/// every call), and failing with `what` named when the file ends first.
pub(crate) struct HeaderReader<'a> {
    src: &'a dyn ByteSource,
    what: &'static str,
    /// Bytes `[buf_start, buf_start + buf.len())` of the file.
    buf: Vec<u8>,
    buf_start: u64,
    pos: u64,
}

/// Bytes fetched per call when the reader runs out: large enough that a GGUF header
/// with a 150 000-token vocabulary takes a handful of calls.
const CHUNK: usize = 1 << 20;

impl<'a> HeaderReader<'a> {
    pub(crate) fn new(src: &'a dyn ByteSource, what: &'static str) -> Self {
        HeaderReader {
            src,
            what,
            buf: Vec::new(),
            buf_start: 0,
            pos: 0,
        }
    }

    /// Offset of the next byte to be read.
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// Bytes left in the file after the current position.
    pub(crate) fn remaining(&self) -> u64 {
        self.src.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes. `n` is checked against what the file has left before
    /// anything is fetched, so a lying length cannot make it allocate.
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8]> {
        if n as u64 > self.remaining() {
            return Err(Error::Invalid(format!(
                "{}: needs {n} more bytes at offset {}, but the file ends after {} (truncated file or corrupt header)",
                self.what,
                self.pos,
                self.remaining()
            )));
        }
        let end = self.pos + n as u64;
        if self.pos < self.buf_start || end > self.buf_start + self.buf.len() as u64 {
            let want = (n.max(CHUNK) as u64).min(self.src.len() - self.pos) as usize;
            self.buf = self.src.read_at(self.pos, want)?.into_owned();
            self.buf_start = self.pos;
        }
        let at = (self.pos - self.buf_start) as usize;
        self.pos = end;
        Ok(&self.buf[at..at + n])
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.take(N)?;
        Ok(b.try_into().expect("take returns N bytes"))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

/// `Read + Seek` over a [`ByteSource`], for crates that want a reader (the zip
/// archive of a PyTorch checkpoint). Wrap it in a `BufReader`: every `read` here is one
/// `read_at`, which in the page crosses into JavaScript.
pub(crate) struct SourceReader<'a> {
    src: &'a dyn ByteSource,
    pos: u64,
}

impl<'a> SourceReader<'a> {
    pub(crate) fn new(src: &'a dyn ByteSource) -> Self {
        SourceReader { src, pos: 0 }
    }
}

impl std::io::Read for SourceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.src.len().saturating_sub(self.pos)) as usize;
        if n == 0 {
            return Ok(0);
        }
        let bytes = self
            .src
            .read_at(self.pos, n)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        buf[..n].copy_from_slice(&bytes);
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for SourceReader<'_> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        use std::io::SeekFrom;
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.src.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_reader_crosses_chunks_and_stops_at_the_end() {
        let bytes: Vec<u8> = (0..(CHUNK + 10)).map(|i| i as u8).collect();
        let src = InMemory(bytes.clone());
        let mut r = HeaderReader::new(&src, "test header");
        assert_eq!(r.take(CHUNK - 2).unwrap(), &bytes[..CHUNK - 2]);
        assert_eq!(r.take(5).unwrap(), &bytes[CHUNK - 2..CHUNK + 3]);
        assert_eq!(r.position(), CHUNK as u64 + 3);
        let err = r.take(8).unwrap_err().to_string();
        assert!(err.contains("test header: needs 8 more bytes"), "{err}");
        assert_eq!(r.take(7).unwrap(), &bytes[CHUNK + 3..]);
    }

    #[test]
    fn in_memory_refuses_ranges_past_the_end() {
        let src = InMemory(vec![1u8, 2, 3]);
        assert_eq!(&*src.read_at(1, 2).unwrap(), &[2, 3]);
        assert!(src.read_at(2, 2).is_err());
        assert!(src.read_at(u64::MAX, 2).is_err());
        assert!(check_range("t", 1, 2, 3).is_ok());
        assert!(check_range("t", u64::MAX, 2, 3).is_err());
    }
}
