"""Contacts app: callback and task requests, their lifecycle, the CCP API and the dashboard."""
