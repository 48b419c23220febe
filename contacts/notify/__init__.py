"""Notifications out: rules over alert groups, queue alerts and the CCE connection, sent to webhooks, chat, email."""
