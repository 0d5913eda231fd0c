# shared helpers for integration tests
