// The sections' own progressive enhancement (triggers, mappings, preview); every page works without it.
