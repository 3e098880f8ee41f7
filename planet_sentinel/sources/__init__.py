"""Where imagery comes from: each source returns a before/after scene pair on one grid."""
