"""The demo: its configuration (seed_demo), the traffic simulator, and the benchmark's measurements."""
