"""Configuration and wiring: ``settings`` (the one configuration object), ``wix`` (the Wix
connection settings), ``assemble`` (from settings to a decision core and its parts)."""
