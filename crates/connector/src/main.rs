//! `scim-connector`: parse the command line, then hand over to the library.

fn main() -> std::process::ExitCode {
    connector::main()
}
