//! What both sides of kith share, and nothing that holds or derives a key.
//!
//! Data holders (the `kith` crate) write encodings; the linkage party (`kith-link`) reads and
//! scores them. Both need the same few things, which live here so that the linkage party's build
//! depends on no cryptographic crate and no linkage code can name a key type:
//!
//! - [`encodings`]: the encodings file (header, rows, reader and writer);
//! - [`bits`]: the 64-byte-aligned bit vector of CLKs and field filters;
//! - [`kernel`]: the SIMD kernels chosen at run time (popcounts, the encoder's OR, the CSV comma
//!   search), the only `unsafe` code of kith;
//! - [`token`]: record, exact and household tokens as opaque 128-bit values.
//!
//! ```
//! use kith_core::encodings::{Header, Reader};
//!
//! let file = "{\"format\":\"kith-encodings\",\"version\":1,\"party\":\"health\",\
//!     \"schema_fingerprint\":\"sha256:00\",\"key_check\":\"00\",\"clk_bits\":64,\"records\":1,\
//!     \"columns\":[\"token\",\"clk\"]}\n\
//!     000102030405060708090a0b0c0d0e0f,AAAAAAAAAAA=\n";
//! let mut reader = Reader::new(file.as_bytes())?;
//! assert_eq!(reader.header().party, "health");
//! let row = reader.next_record()?.expect("one row");
//! assert_eq!(kith_core::hex(&row.token), "000102030405060708090a0b0c0d0e0f");
//! assert!(reader.next_record()?.is_none());
//! # Ok::<(), kith_core::EncodingsError>(())
//! ```

pub mod bits;
pub mod encodings;
mod error;
pub mod kernel;
pub mod token;

pub use bits::{BitVec, Block};
pub use encodings::EncodedRecord;
pub use error::EncodingsError;
pub use token::{TOKEN_BYTES, Token, hex, push_hex};
