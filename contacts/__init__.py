"""Contacts app: callback and task requests, their lifecycle, the CCP API, the mock CCE and the dashboard.

One package per capability (core at the bottom; api, cce, live, dashboard, alerts, workflows, demo above
it); the modules directly in this folder are Django's discovery points (models, admin, tasks, urls, apps)."""
