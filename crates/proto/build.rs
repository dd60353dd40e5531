//! Compiles `proto/` with protox, a pure-Rust protobuf compiler, so that the
//! build needs nothing but cargo (no system `protoc`).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "scimconnector/common/v1/common.proto",
        "scimconnector/directory/v1/directory.proto",
        "scimconnector/provisioning/v1/provisioning.proto",
        "scimconnector/audit/v1/audit.proto",
    ];
    let descriptors = protox::compile(files, [&root])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
