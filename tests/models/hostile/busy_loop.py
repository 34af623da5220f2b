"""Hostile: spins forever without printing."""
print("spinning", flush=True)
while True:
    pass
