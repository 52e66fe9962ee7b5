"""Partner simulators: real servers standing in for the systems Kanal talks to."""
