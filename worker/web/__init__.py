"""The web app: notice template previews and the ops pages (``python -m worker web``)."""
