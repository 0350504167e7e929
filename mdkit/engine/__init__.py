"""The engine: REST, stream captures, transport, the loop-thread runner, paged history."""
