//! The web console's browser test (`tests/browser.rs`): headless Chromium, driven over WebDriver
//! by `chromedriver`, signs in to the console of the `dev` stack and goes through the core flows.
//! The crate has no library code; it exists so that the browser test is a test of its own, with
//! its own dependencies (a WebDriver client), run by `cargo nextest run --workspace`.
//!
//! It needs `chromium` and `chromedriver` on the `PATH` (Debian: `chromium`, `chromium-driver`),
//! and fails, never skips, without them.
