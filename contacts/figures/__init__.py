"""The figures ccpdash shows or exports: `catalogue` defines each one once (what it counts, its window, its zone,
its formula), `compute` computes them per MRD and in total. Pages, toasts, the CSV export, live snapshots and
metrics take their figures from here; the package imports only the core and the mock CCE.
"""
