"""Active probes: experiments run on copies of the user's model, never on the model itself."""
