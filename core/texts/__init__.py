"""Dutch and English texts, one module per area; each defines TEXTS = {key: {"en": ..., "nl": ...}}."""
