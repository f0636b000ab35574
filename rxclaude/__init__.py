"""rxclaude: Claude's streaming Messages API as reactive streams."""
