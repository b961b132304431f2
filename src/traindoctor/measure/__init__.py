"""What runs beside training and measures it: hooks, the recorder, step statistics, replay.

Measuring code returns numbers; the judge decides codes."""
