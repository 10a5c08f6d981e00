"""The web page and JSON API of ``planner serve``."""
