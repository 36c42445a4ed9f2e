"""The notice record and its life cycle: states, the store, dead letters, suppressions, replay."""
