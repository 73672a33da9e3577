"""Small public-domain datasets bundled with emviz (see ``PROVENANCE.md``); load them with
:func:`emviz.data.load_data` (``{"dataset": "old_faithful"}`` or ``{"dataset": "iris"}``)."""
