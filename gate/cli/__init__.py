"""The ``booking-gate`` command: serve, check, test, explain, replay, schema, emulator, demo."""
