"""The core at the bottom: the lifecycle (the move table, create(), transition()), the feed, contact and
transition models, the contact filter, formats, permissions and health. It imports no package above it."""
