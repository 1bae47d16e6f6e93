"""The interface strings by area, one module each; server/i18n imports them all."""
