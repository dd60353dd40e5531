//! Compiles `proto/` with protox, a pure-Rust protobuf compiler, so that the
//! build needs nothing but cargo (no system `protoc`).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not with `env!`: a build script compiled in one checkout and reused from a
    // copied target directory would otherwise read (and watch) the other checkout's `proto/`.
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?)
        .join("../../proto");
    let files = [
        "scimconnector/common/v1/common.proto",
        "scimconnector/directory/v1/directory.proto",
        "scimconnector/provisioning/v1/provisioning.proto",
        "scimconnector/audit/v1/audit.proto",
        "scimconnector/admin/v1/admin.proto",
    ];
    let descriptors = protox::compile(files, [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // It carries a password: its Debug is written in lib.rs.
        .skip_debug([".scimconnector.admin.v1.VerifyConsoleAccountRequest"])
        // A rendered document is sent as `bytes::Bytes`: the adapter hands its serialized buffer
        // to the encoder and the gateway splices the decoded slice, without a copy into a `Vec`.
        .bytes(".scimconnector.common.v1.Resource.json")
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
