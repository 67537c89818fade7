import array
from collections.abc import Sequence

IMPLEMENTATION: str

def send_to_all(fds: Sequence[int], data: bytes, sent: array.array[int]) -> int: ...
