"""Grammar files shipped with hnas; installed as the package data folder hnas/grammars."""
