//! End-to-end lifecycle tests: the real handler, the real SDK, the strict emulator.

mod common;

use common::*;

/// Straight to the emulator.
const FAULTS: Option<fn() -> FaultConfig> = None;

include!("scenarios/lifecycle.rs");
