"""Tools that ship with the gate but are not the gate: the Wix emulator, the demo studio, and
``testing.run_server`` for tests and benchmarks."""
