"""User content: uploads and the model library."""
