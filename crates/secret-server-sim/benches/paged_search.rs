//! Placeholder until the emulator benchmark is written.
fn main() {}
