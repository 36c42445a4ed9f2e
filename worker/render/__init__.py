"""One event to one message: templates, catalogs, formatting, CSS inlining and MIME."""
