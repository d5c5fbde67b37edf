//! Compression codecs inside a record batch, framed exactly as Kafka's Java client frames them.
//!
//! Only the records section (everything after the 61-byte batch header) is compressed; the codec
//! is named by bits 0-2 of the batch attributes.
//!
//! | codec | id | framing |
//! |---|---|---|
//! | gzip | 1 | one gzip stream (RFC 1952) |
//! | snappy | 2 | Xerial snappy-java stream (below); raw snappy accepted when decoding |
//! | lz4 | 3 | LZ4 frame format, 64 KiB independent blocks, no checksums |
//! | zstd | 4 | one zstd frame |
//!
//! Xerial framing (snappy-java `SnappyOutputStream`, which Kafka's `SnappyFactory` uses):
//!
//! ```text
//! magic   8 bytes  0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
//! version int32 BE 1
//! compat  int32 BE 1
//! blocks  repeated { length int32 BE | raw snappy block of at most 32 KiB of input }
//! ```
//!
//! Source for the framing: snappy-java `SnappyCodec.java` (MAGIC_HEADER, DEFAULT_VERSION,
//! MINIMUM_COMPATIBLE_VERSION) and `SnappyOutputStream.java` (DEFAULT_BLOCK_SIZE = 32 KiB).

use std::io::{Read, Write};

use crate::error::{Error, ErrorCode, Result};

/// A compression codec of a record batch (`compression.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (attribute codec 0).
    #[default]
    None,
    /// gzip (codec 1).
    Gzip,
    /// snappy, Xerial-framed (codec 2).
    Snappy,
    /// LZ4 frame (codec 3).
    Lz4,
    /// zstd frame (codec 4).
    Zstd,
}

impl Compression {
    /// The codec id stored in the low three attribute bits.
    pub fn id(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec with this attribute id.
    pub fn from_id(id: i16) -> Result<Compression> {
        Ok(match id {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => return Err(Error::new(ErrorCode::CorruptRecord, format!("unknown compression codec id {id}"))),
        })
    }

    /// Kafka's name for the codec (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// Parse Kafka's name of a codec (`uncompressed` is accepted as `none`).
    pub fn parse(name: &str) -> Result<Compression> {
        Ok(match name {
            "none" | "uncompressed" => Compression::None,
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            _ => {
                return Err(Error::new(
                    ErrorCode::InvalidConfig,
                    format!("unknown compression type {name:?}; expected none, gzip, snappy, lz4 or zstd"),
                ))
            }
        })
    }
}

const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_BLOCK: usize = 32 * 1024;

fn codec_err(codec: Compression, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::CorruptRecord, format!("{} records section does not decompress: {e}", codec.name()))
}

/// Compress `data` with `codec` using Kafka's framing.
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2 + 32), flate2::Compression::default());
            enc.write_all(data).map_err(|e| Error::io("gzip compress", e))?;
            enc.finish().map_err(|e| Error::io("gzip compress", e))
        }
        Compression::Snappy => {
            let mut out = Vec::with_capacity(data.len() / 2 + 32);
            out.extend_from_slice(&XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut enc = snap::raw::Encoder::new();
            for chunk in data.chunks(XERIAL_BLOCK) {
                let block = enc.compress_vec(chunk).map_err(|e| Error::internal(format!("snappy compress: {e}")))?;
                out.extend_from_slice(&(block.len() as i32).to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent)
                .block_checksums(false)
                .content_checksum(false);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::with_capacity(data.len() / 2 + 32));
            enc.write_all(data).map_err(|e| Error::io("lz4 compress", e))?;
            enc.finish().map_err(|e| Error::internal(format!("lz4 compress: {e}")))
        }
        Compression::Zstd => zstd::bulk::compress(data, 3).map_err(|e| Error::io("zstd compress", e)),
    }
}

/// Decompress a records section written with `codec`.
pub fn decompress(codec: Compression, data: &[u8]) -> Result<Vec<u8>> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let mut out = Vec::with_capacity(data.len() * 3);
            flate2::read::GzDecoder::new(data).read_to_end(&mut out).map_err(|e| codec_err(codec, e))?;
            Ok(out)
        }
        Compression::Snappy => {
            if data.len() >= 16 && data[..8] == XERIAL_MAGIC {
                let mut out = Vec::with_capacity(data.len() * 3);
                let mut dec = snap::raw::Decoder::new();
                let mut rest = &data[16..];
                while !rest.is_empty() {
                    if rest.len() < 4 {
                        return Err(codec_err(codec, "truncated xerial block length"));
                    }
                    let n = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
                    if n < 0 || n as usize > rest.len() - 4 {
                        return Err(codec_err(codec, format!("xerial block length {n} exceeds the remaining {} bytes", rest.len() - 4)));
                    }
                    let block = &rest[4..4 + n as usize];
                    out.extend_from_slice(&dec.decompress_vec(block).map_err(|e| codec_err(codec, e))?);
                    rest = &rest[4 + n as usize..];
                }
                Ok(out)
            } else {
                snap::raw::Decoder::new().decompress_vec(data).map_err(|e| codec_err(codec, e))
            }
        }
        Compression::Lz4 => {
            let mut out = Vec::with_capacity(data.len() * 3);
            lz4_flex::frame::FrameDecoder::new(data).read_to_end(&mut out).map_err(|e| codec_err(codec, e))?;
            Ok(out)
        }
        Compression::Zstd => {
            let mut out = Vec::with_capacity(data.len() * 3);
            zstd::stream::read::Decoder::new(data)
                .and_then(|mut d| d.read_to_end(&mut out))
                .map_err(|e| codec_err(codec, e))?;
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_codec() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for c in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let z = compress(c, &data).unwrap();
            assert_eq!(decompress(c, &z).unwrap(), data, "{c:?}");
            assert_eq!(Compression::parse(c.name()).unwrap(), c);
            assert_eq!(Compression::from_id(c.id()).unwrap(), c);
        }
    }

    #[test]
    fn framings_are_kafkas() {
        let data = b"hello hello hello hello hello".repeat(3000);
        // gzip: RFC 1952 magic 1f 8b, deflate method 8.
        assert_eq!(&compress(Compression::Gzip, &data).unwrap()[..3], &[0x1f, 0x8b, 8]);
        // snappy: xerial header, then blocks of at most 32 KiB input.
        let s = compress(Compression::Snappy, &data).unwrap();
        assert_eq!(&s[..16], &[0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        // lz4: frame magic 0x184D2204 little-endian; FLG = version 01, block independence.
        let l = compress(Compression::Lz4, &data).unwrap();
        assert_eq!(&l[..4], &[0x04, 0x22, 0x4d, 0x18]);
        assert_eq!(l[4] & 0xC0, 0x40, "version 01");
        assert_eq!(l[4] & 0x20, 0x20, "independent blocks");
        assert_eq!(l[5] & 0x70, 0x40, "64 KiB blocks");
        // zstd: frame magic 0xFD2FB528 little-endian.
        assert_eq!(&compress(Compression::Zstd, &data).unwrap()[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    }

    #[test]
    fn snappy_decoder_accepts_raw_blocks() {
        let data = b"raw snappy as librdkafka can write it".repeat(10);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(Compression::Snappy, &raw).unwrap(), data);
    }

    #[test]
    fn garbage_is_a_corrupt_record_error() {
        for c in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let e = decompress(c, b"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01\x7f\xff\xff\xffgarbage").unwrap_err();
            assert_eq!(e.code(), ErrorCode::CorruptRecord, "{c:?}");
        }
        assert_eq!(Compression::from_id(5).unwrap_err().code(), ErrorCode::CorruptRecord);
        assert_eq!(Compression::parse("brotli").unwrap_err().code(), ErrorCode::InvalidConfig);
    }
}
