"""routing: assigns units to triaged calls, tracks them to resolution, serves consoles and insights."""
