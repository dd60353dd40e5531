//! The contract tests: the client and the emulator held to Delinea's published OpenAPI document.
//!
//! - `requests`: every request the client builds, sent through a recording proxy to the emulator,
//!   is an operation of the document, with declared and well-typed query parameters and a body
//!   that fits the request schema;
//! - `answers`: every answer the emulator gives to those requests, and to the error cases (an
//!   unknown id, a refused rule, a missing token, a denied permission, a server error), fits the
//!   schema the document declares for its status;
//! - `decoding`: every client method decodes what the document allows Secret Server to answer,
//!   with every nullable property `null`, with every property present, and with none.

mod answers;
mod decoding;
mod drive;
mod requests;
