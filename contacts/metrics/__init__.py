"""Metrics for Prometheus at /metrics: `instruments` counts in each process, `collector` reads the figures at scrape
time, `views` protects and serves them, `middleware` counts requests. The package reads the figures, the core and
the Celery broker; the live package imports its instruments, never the other way round.
"""
