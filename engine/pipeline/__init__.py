"""The message path: receive → commit → route → queue → deliver."""
