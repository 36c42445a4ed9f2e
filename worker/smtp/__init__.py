"""Everything that speaks SMTP: the client pool, replies, return paths and our own servers."""
