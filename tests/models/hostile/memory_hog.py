"""Hostile: allocates and touches memory 10 MB at a time until something stops it."""
hoard = []
for i in range(1, 100_000):
    hoard.append(bytearray(10 * 1024 * 1024))
    if i % 5 == 0:
        print(f"holding {i * 10} MB", flush=True)
