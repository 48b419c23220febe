"""Alerts: discard alerts (each is its discard Transition), queue alerts, acknowledgements, the alert feed."""
