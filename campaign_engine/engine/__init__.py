"""The top of the engine: the tick that drives every area, the long-running scheduler, launch and doctor."""
