"""The judge: rules that turn measurements into findings with codes from the catalog. They measure
nothing themselves; every number they decide with is in thresholds.py. (Kept free of imports: the
CLI reaches judge/series.py at start-up, and torch must not load for `lint` or `--version`.)"""
