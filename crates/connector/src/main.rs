//! `scim-connector`: parse the command line, then hand over to the library.

/// glibc's malloc took about a quarter of the read path's cycles under load (arena locks and
/// consolidation across the HTTP workers and the gRPC runtime); mimalloc's thread-local heaps do
/// not (see docs/benchmarks.md, "Gateway").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    connector::main()
}
